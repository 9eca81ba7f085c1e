package delivery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/api"
)

// serveRoutes serves s's routes; the X-Test-Client header names the caller.
func serveRoutes(t *testing.T, s *Service) *httptest.Server {
	mux := api.NewMux()
	auth := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := api.Principal{Client: r.Header.Get("X-Test-Client")}
			h.ServeHTTP(w, r.WithContext(api.WithPrincipal(r.Context(), p)))
		})
	}
	s.Routes(mux, auth)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, client, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Test-Client", client)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

func TestSinkRoutes(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	bad := arrival("p1", "CA1", 1)
	bad["bags"] = "many"
	r.publish(t, "arrivals", "p1", bad)
	r.publish(t, "arrivals", "p2", arrival("p2", "CA1", 2))
	s := startService(t, testConfig(t, "", arrivalsSink), r.js, t.TempDir(), 0)
	srv := serveRoutes(t, s)

	var list struct{ Sinks []Status }
	waitFor(t, "the listing to show one dead letter and no lag", func() bool {
		code := call(t, srv, "admin", "GET", "/v1/sinks", "", &list)
		return code == 200 && len(list.Sinks) == 1 && list.Sinks[0].DeadLetters == 1 && list.Sinks[0].Lag == 0
	})
	if st := list.Sinks[0]; st.Name != "arrivals-db" || st.Table != "arrivals" || st.RowsWritten != 1 || st.LastError == "" {
		t.Errorf("status: %+v", st)
	}
	for _, tc := range []struct {
		client, method, path string
		want                 int
	}{
		{"screens", "GET", "/v1/sinks", 403},
		{"screens", "POST", "/v1/sinks/arrivals-db/pause", 403},
		{"admin", "GET", "/v1/sinks/nope", 404},
		{"admin", "POST", "/v1/sinks/nope/dead-letters/redrive", 404},
		{"admin", "GET", "/v1/sinks/arrivals-db/dead-letters?limit=0", 400},
	} {
		if got := call(t, srv, tc.client, tc.method, tc.path, "", nil); got != tc.want {
			t.Errorf("%s %s as %s: %d, want %d", tc.method, tc.path, tc.client, got, tc.want)
		}
	}
	var st Status
	if code := call(t, srv, "admin", "POST", "/v1/sinks/arrivals-db/pause", "", &st); code != 200 || st.State != "paused" {
		t.Errorf("pause: %d %+v", code, st)
	}
	if code := call(t, srv, "admin", "POST", "/v1/sinks/arrivals-db/resume", "", &st); code != 200 || st.State != "running" {
		t.Errorf("resume: %d %+v", code, st)
	}

	var dls struct {
		DeadLetters []DeadLetter `json:"dead_letters"`
	}
	if code := call(t, srv, "admin", "GET", "/v1/sinks/arrivals-db/dead-letters", "", &dls); code != 200 || len(dls.DeadLetters) != 1 {
		t.Fatalf("dead letters: %d %+v", code, dls)
	}
	var res RedriveResult
	call(t, srv, "admin", "POST", "/v1/sinks/arrivals-db/dead-letters/redrive", `{"ids":[1]}`, &res)
	if res.Redriven != 0 || len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Error, "want an integer") {
		t.Errorf("redrive of an unfixable event: %+v", res)
	}
	var del map[string]int
	if code := call(t, srv, "admin", "DELETE", "/v1/sinks/arrivals-db/dead-letters", "", &del); code != 200 || del["deleted"] != 1 {
		t.Errorf("delete all: %d %v", code, del)
	}
}
