package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// The harness runs a cloud and edges in-process the way `stadion up` and
// `stadion edge` do: real embedded engines linked by a real leafnode
// connection on loopback, real keys, served by httptest.

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("GATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func stopOnCleanup(t testing.TB, name string, stop func(context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := stop(ctx); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
}

type cloudRig struct {
	keys  *api.Keys
	eng   *engine.Engine
	cloud *Cloud
	url   string
	admin string
}

func startCloud(t testing.TB) *cloudRig {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(os.DirFS("testdata"), "stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	eng := enginetest.Start(t, enginetest.Logger(log), enginetest.With(func(o *engine.Options) {
		o.ClientAddr, o.LeafAddr, o.Domain = "", "127.0.0.1:0", CloudDomain
	}))
	keys, err := api.OpenKeys(ctx, eng.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := keys.Create(ctx, api.AdminClient)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	x, err := exchange.New(cfg, eng.Conn, eng.JS, keys, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "exchange", x.Stop)
	c, err := NewCloud(cfg, eng, x, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "cloud", c.Stop)
	mux := api.NewMux()
	auth := func(h http.Handler) http.Handler { return api.Authenticate(keys, h) }
	c.Routes(mux, auth)
	x.Routes(mux, auth)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &cloudRig{keys: keys, eng: eng, cloud: c, url: srv.URL, admin: admin}
}

type edgeRig struct {
	eng   *engine.Engine
	edge  *Edge
	url   string
	admin string
}

// startEdge runs venue's edge with its state in dir, linked to leafURL.
func startEdge(t testing.TB, venue, dir, leafURL string, creds Credentials, opts ...func(*EdgeOptions)) *edgeRig {
	t.Helper()
	ctx := context.Background()
	log := testLogger(t)
	ring := NewLogRing(1000)
	log = slog.New(ring.Handler(log.Handler()))
	eng := enginetest.Start(t, enginetest.Dir(dir), enginetest.Logger(log), enginetest.With(func(o *engine.Options) {
		o.ClientAddr, o.Domain, o.Name = "", EdgeDomain(venue), "edge-"+venue
		o.Leaf = &engine.LeafRemote{URL: leafURL, User: creds.Venue, Password: creds.Password}
	}))
	keys, err := api.OpenKeys(ctx, eng.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := keys.Create(ctx, api.AdminClient)
	if err != nil {
		t.Fatal(err)
	}
	o := EdgeOptions{Venue: venue, Engine: eng, Keys: keys, Logs: ring, Reg: prometheus.NewRegistry(), Log: log}
	for _, opt := range opts {
		opt(&o)
	}
	e := NewEdge(o)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mux := api.NewMux()
	e.Routes(mux, func(h http.Handler) http.Handler { return api.Authenticate(keys, h) })
	srv := httptest.NewServer(mux)
	r := &edgeRig{eng: eng, edge: e, url: srv.URL, admin: admin}
	stopped := false
	stop := func(ctx context.Context) error {
		if stopped {
			return nil
		}
		stopped = true
		srv.Close()
		return errors.Join(e.Stop(ctx), eng.Stop(ctx))
	}
	stopOnCleanup(t, "edge "+venue, stop)
	return r
}

func call(t testing.TB, method, url, key string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, raw)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		t.Logf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

func (c *cloudRig) credentials(t testing.TB, venue string) Credentials {
	t.Helper()
	var cr Credentials
	if code := call(t, "POST", c.url+"/v1/venues/"+venue+"/credentials", c.admin, nil, &cr); code != http.StatusCreated {
		t.Fatalf("credentials: %d", code)
	}
	return cr
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tempDir(t testing.TB, name string) string {
	d := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}
