// Package api is the HTTP plumbing every stadion service shares: bearer-key
// authentication, RFC 9457 problem+json errors, JSON helpers, body limits,
// write deadlines, caps on long-lived responses and request metrics.
// Services import api; api imports no stadion service.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Problem is an RFC 9457 problem details object. Services return it (or
// wrap it) as an error; WriteError renders it.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists individual problems, each at a JSON pointer into the
	// request (schema violations, bad batch items).
	Errors []FieldError `json:"errors,omitempty"`
	// Extra members merged into the JSON object (e.g. retry hints).
	Extra map[string]any `json:"-"`
}

// FieldError is one problem at one place in the request body.
type FieldError struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

const problemBase = "https://stadion.dev/problems/"

// NewProblem makes a problem of the given status; slug names its type
// (https://stadion.dev/problems/<slug>).
func NewProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: problemBase + slug, Title: title, Status: status, Detail: detail}
}

// Common problems.
func BadRequest(detail string) *Problem {
	return NewProblem(http.StatusBadRequest, "bad-request", "Bad request", detail)
}

// Unauthorized is 401: no key or an unknown key.
func Unauthorized(detail string) *Problem {
	return NewProblem(http.StatusUnauthorized, "unauthorized", "Missing or unknown API key", detail)
}

// Forbidden is 403: a known key without the right.
func Forbidden(detail string) *Problem {
	return NewProblem(http.StatusForbidden, "forbidden", "Not allowed", detail)
}

// NotFound is 404.
func NotFound(detail string) *Problem {
	return NewProblem(http.StatusNotFound, "not-found", "Not found", detail)
}

// Unavailable is 503: the engine or a dependency cannot take the request.
func Unavailable(detail string) *Problem {
	return NewProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", detail)
}

// WriteError renders err as problem+json. Errors that are not a *Problem
// become a 500 whose detail does not leak internals.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		p = NewProblem(http.StatusInternalServerError, "internal", "Internal error", "the server failed; see its log")
	}
	out := *p
	if out.Instance == "" && r != nil {
		out.Instance = r.URL.Path
	}
	body := map[string]any{}
	for k, v := range out.Extra {
		body[k] = v
	}
	raw, _ := json.Marshal(out)
	_ = json.Unmarshal(raw, &body)
	if out.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stadion"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// HandlerFunc adapts a handler that returns an error, rendering the error
// as problem+json in one place.
func HandlerFunc(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}
