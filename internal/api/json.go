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

// DecodeJSON reads a small JSON request body into v, rejecting unknown
// fields. An empty body leaves v as it is.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	body, err := ReadBody(r, limit)
	if err != nil || len(body) == 0 {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && MediaType(ct) != "application/json" {
		return UnsupportedMediaType(ct, "application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadRequest("invalid JSON body: " + err.Error())
	}
	return nil
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
