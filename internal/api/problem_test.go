package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%q: %v", w.Body, err)
	}
	if m["status"] != float64(w.Code) {
		t.Errorf("status member %v, HTTP %d", m["status"], w.Code)
	}
	return m
}

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		typ    string
	}{
		{"bad request", BadRequest("x is wrong"), 400, "bad-request"},
		{"unauthorized", Unauthorized("no key"), 401, "unauthorized"},
		{"forbidden", Forbidden("no"), 403, "forbidden"},
		{"not found", NotFound("gone"), 404, "not-found"},
		{"unavailable", Unavailable("engine down"), 503, "unavailable"},
		{"wrapped problem", fmt.Errorf("context: %w", NotFound("gone")), 404, "not-found"},
		{"plain error", errors.New("secret internal detail"), 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := HandlerFunc(func(http.ResponseWriter, *http.Request) error { return tc.err })
			w := serve(t, h, "GET", "/v1/thing?x=1", "")
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			m := decodeProblem(t, w)
			if m["type"] != "https://stadion.dev/problems/"+tc.typ || m["title"] == "" || m["detail"] == "" || m["instance"] != "/v1/thing" {
				t.Errorf("problem %v", m)
			}
			if strings.Contains(w.Body.String(), "secret internal detail") {
				t.Error("a 500 leaked the error")
			}
			if (tc.status == 401) != (w.Header().Get("WWW-Authenticate") != "") {
				t.Errorf("WWW-Authenticate %q on %d", w.Header().Get("WWW-Authenticate"), tc.status)
			}
		})
	}
	t.Run("errors and extra members", func(t *testing.T) {
		p := BadRequest("two problems")
		p.Errors = []FieldError{{Pointer: "/a", Message: "bad"}, {Pointer: "", Message: "worse"}}
		p.Extra = map[string]any{"retry_after": 5, "status": 999}
		w := serve(t, HandlerFunc(func(http.ResponseWriter, *http.Request) error { return p }), "POST", "/x", "")
		m := decodeProblem(t, w)
		errs, _ := m["errors"].([]any)
		if len(errs) != 2 || m["retry_after"] != float64(5) {
			t.Errorf("problem %v", m)
		}
	})
}

func TestRecover(t *testing.T) {
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	h := Recover(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := serve(t, h, "GET", "/x", "")
	if w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	decodeProblem(t, w)
	if strings.Contains(w.Body.String(), "boom") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("body %q, log %q", w.Body, logs)
	}
}

func TestDecodeJSON(t *testing.T) {
	type req struct {
		Name string `json:"name"`
	}
	h := HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		v := req{Name: "default"}
		if err := DecodeJSON(r, 32, &v); err != nil {
			return err
		}
		WriteJSON(w, 200, v)
		return nil
	})
	for _, tc := range []struct {
		name, body, ct string
		status         int
		want           string
	}{
		{"ok", `{"name":"a"}`, "application/json", 200, `{"name":"a"}`},
		{"empty body keeps defaults", ``, "", 200, `{"name":"default"}`},
		{"no content type", `{"name":"a"}`, "", 200, `{"name":"a"}`},
		{"charset", `{"name":"a"}`, "application/json; charset=utf-8", 200, `{"name":"a"}`},
		{"unknown field", `{"nom":"a"}`, "application/json", 400, ""},
		{"malformed", `{"name":`, "application/json", 400, ""},
		{"too large", `{"name":"` + strings.Repeat("a", 40) + `"}`, "application/json", 413, ""},
		{"wrong type", `{"name":"a"}`, "text/plain", 415, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.ct != "" {
				header = []string{"Content-Type", tc.ct}
			}
			w := serve(t, h, "POST", "/x", tc.body, header...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status != 200 {
				decodeProblem(t, w)
				return
			}
			if got := strings.TrimSpace(w.Body.String()); got != tc.want {
				t.Errorf("body %s, want %s", got, tc.want)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		size   int
		status int
	}{{0, 0}, {10, 0}, {16, 0}, {17, 413}, {10000, 413}} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", tc.size)))
		body, err := ReadBody(r, 16)
		var p *Problem
		switch {
		case tc.status == 0 && (err != nil || len(body) != tc.size):
			t.Errorf("%d bytes: %d read, %v", tc.size, len(body), err)
		case tc.status != 0 && (!errors.As(err, &p) || p.Status != tc.status):
			t.Errorf("%d bytes: %v, want %d", tc.size, err, tc.status)
		}
	}
	r := httptest.NewRequest("POST", "/", io.NopCloser(errReader{}))
	if _, err := ReadBody(r, 16); err == nil {
		t.Error("a failing body read succeeded")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc":    "abc",
		"bearer abc":    "abc",
		"BEARER  abc  ": "abc",
		"Basic abc":     "",
		"Bearer":        "",
		"abc":           "",
		"":              "",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		if got := BearerToken(r); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", h, got, want)
		}
	}
}
