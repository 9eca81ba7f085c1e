package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadBody reads the whole request body, at most limit bytes; a larger
// body is a 413 problem.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, NewProblem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large",
			fmt.Sprintf("the body is over the limit of %d bytes", limit))
	}
	if err != nil {
		return nil, BadRequest("reading the body: " + err.Error())
	}
	return body, nil
}

// DecodeJSON reads a small JSON request body into v: strict JSON (see
// CheckJSON), no unknown fields. An empty body leaves v as it is.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	body, err := ReadBody(r, limit)
	if err != nil || len(body) == 0 {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && MediaType(ct) != "application/json" {
		return UnsupportedMediaType(ct, "application/json")
	}
	return Unmarshal(body, v)
}

// Unmarshal decodes a document that came from outside into v: strict JSON
// (see CheckJSON), no unknown fields. Every error is a 400 *Problem; a
// strict-rule error carries the JSON pointer of the offending value.
func Unmarshal(data []byte, v any) error {
	if err := CheckJSON(data); err != nil {
		return MalformedJSON(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadRequest("invalid JSON body: " + err.Error())
	}
	return nil
}

// MalformedJSON is 400 for a body that is not (strict) JSON. A body that
// is JSON but breaks a strict rule (a duplicate member, a number beyond a
// double, invalid text) lists the pointer of the offending value in
// Errors, as schema violations do; a syntax error has no value to point at
// and names its byte offset in Detail only.
func MalformedJSON(err error) *Problem {
	p := NewProblem(http.StatusBadRequest, "malformed-json", "Malformed JSON", "the body is not valid JSON: "+err.Error())
	var je *JSONError
	if errors.As(err, &je) && !errors.Is(je.Err, ErrJSONSyntax) && !errors.Is(je.Err, ErrJSONTooDeep) {
		p.Detail = "the body is not strict JSON (I-JSON, RFC 7493): " + err.Error()
		msg := je.Err.Error()
		if je.Detail != "" {
			msg += ": " + je.Detail
		}
		p.Errors = []FieldError{{Pointer: je.Pointer, Message: msg}}
	}
	return p
}

// MediaType returns the lower-cased media type of a Content-Type header
// without parameters, or "" when it cannot be parsed.
func MediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

// UnsupportedMediaType is 415.
func UnsupportedMediaType(got string, want ...string) *Problem {
	p := NewProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported content type",
		fmt.Sprintf("content type %q is not accepted here", got))
	p.Extra = map[string]any{"accepted": want}
	return p
}
