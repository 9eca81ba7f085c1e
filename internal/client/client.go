// Package client is the HTTP API client of a stadion server, used by the
// command line (internal/cli) and the benchmarks (internal/bench/...). It
// speaks /v1 over HTTP and imports no service but gate, for the ticket
// types it sends.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

// Client is an API client for one server. It is safe for concurrent use.
type Client struct {
	Base, Token string // the server's URL without a trailing slash; the bearer API key
	HTTP        *http.Client
	// Agent is the User-Agent sent (default stadion-cli/VERSION).
	Agent string
}

// APIError is a problem+json answer, printed for a person.
type APIError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, e.Title)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for _, fe := range e.Errors {
		fmt.Fprintf(&b, "\n  at %q: %s", fe.Pointer, fe.Message)
	}
	return b.String()
}

// Do sends a request; a non-2xx answer becomes an *APIError. out, when not
// nil, receives the decoded JSON body.
func (r *Client) Do(ctx context.Context, method, path, contentType string, body []byte, hdr http.Header, out any) error {
	resp, err := r.Send(ctx, method, path, contentType, body, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Send is Do without decoding: the caller reads and closes the body.
func (r *Client) Send(ctx context.Context, method, path, contentType string, body []byte, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", r.userAgent())
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach stadion at %s (is 'stadion up' running? see --server): %w", r.Base, err)
	}
	if id := resp.Header.Get(HeldHeader); id != "" && resp.StatusCode == http.StatusAccepted {
		defer resp.Body.Close()
		e := &HeldError{ID: id}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = json.Unmarshal(raw, e)
		return nil, e
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		e := &APIError{Status: resp.StatusCode, Title: resp.Status}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = json.Unmarshal(raw, e)
		return nil, e
	}
	return resp, nil
}

// userAgent names the program in requests, so that a runtime limit can
// match it (stadion-demo/..., stadion-cli/...).
func (r *Client) userAgent() string {
	if r.Agent != "" {
		return r.Agent
	}
	return "stadion-cli/" + cmdio.Version
}
