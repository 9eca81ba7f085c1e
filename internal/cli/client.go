package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// remoteFlags are the flags of every command that talks to a server.
type remoteFlags struct {
	server, token, data string
	json                bool
}

func (f *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "server URL (default: $STADION_SERVER, <data>/endpoints.json, http://127.0.0.1:8080)")
	fs.StringVar(&f.token, "token", "", "API key (default: $STADION_TOKEN, then <data>/admin.key)")
	fs.StringVar(&f.data, "data", defaultDataDir, "data directory of a local server, for its endpoints and admin key")
	fs.BoolVar(&f.json, "json", false, "machine-readable JSON output")
}

// remote is an API client for one server.
type remote struct {
	base, token string
	hc          *http.Client
}

func (f *remoteFlags) remote(env Env) (*remote, error) {
	r := &remote{base: f.server, token: f.token, hc: &http.Client{}}
	if r.base == "" {
		r.base = env.Getenv("STADION_SERVER")
	}
	if r.base == "" {
		r.base = "http://127.0.0.1:8080"
		if raw, err := os.ReadFile(filepath.Join(f.data, EndpointsFile)); err == nil {
			var ep Endpoints
			if json.Unmarshal(raw, &ep) == nil && ep.HTTP != "" {
				r.base = ep.HTTP
			}
		}
	}
	r.base = strings.TrimRight(r.base, "/")
	if r.token == "" {
		r.token = env.Getenv("STADION_TOKEN")
	}
	if r.token == "" {
		raw, err := os.ReadFile(filepath.Join(f.data, "admin.key"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no API key: pass --token KEY, set STADION_TOKEN, or point --data at the server's data directory (no %s there)", filepath.Join(f.data, "admin.key"))
		}
		if err != nil {
			return nil, err
		}
		r.token = strings.TrimSpace(string(raw))
	}
	return r, nil
}

// apiError is a problem+json answer, printed for a person.
type apiError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *apiError) Error() string {
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

// do sends a request; a non-2xx answer becomes an *apiError. out, when not
// nil, receives the decoded JSON body.
func (r *remote) do(ctx context.Context, method, path, contentType string, body []byte, hdr http.Header, out any) error {
	resp, err := r.send(ctx, method, path, contentType, body, hdr)
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

// send is do without decoding: the caller reads and closes the body.
func (r *remote) send(ctx context.Context, method, path, contentType string, body []byte, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach stadion at %s (is 'stadion up' running? see --server): %w", r.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		e := &apiError{Status: resp.StatusCode, Title: resp.Status}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = json.Unmarshal(raw, e)
		return nil, e
	}
	return resp, nil
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
