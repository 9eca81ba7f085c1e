package live

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// The harness runs live the way `stadion up` does: a real embedded engine
// on a free port, keys, the service with its MQTT listener on a free
// loopback port, and its routes behind httptest.

const testConfig = `
topics:
  medals:
    key: /event
    publishers: [odf]
clients:
  app: {roles: [live-issuer]}
  studio: {roles: [live-moderator]}
  odf: {}
live:
  rooms: [curling, alpine]
  anonymous_read: true
  user_rate: 3/1m
  banned_words: [spamlink, 垃圾]
  flood_users: 2
  bridge: {medals: games/medals}
`

type harness struct {
	t    testing.TB
	eng  *engine.Engine
	keys *api.Keys
	s    *Service
	srv  *httptest.Server
	mqtt string // MQTT listener address
}

func newHarness(t testing.TB, yamlText string) *harness {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlText), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return startHarness(t, cfg, nil)
}

// startHarnessWith starts a service that re-reads its configuration with
// reload.
func startHarnessWith(t testing.TB, cfg *config.Config, reload func() (*config.Config, error)) *harness {
	return startHarnessOpts(t, cfg, nil, reload)
}

// startHarness starts a live service; with eng set, it joins that engine
// (a second process of the same deployment).
func startHarness(t testing.TB, cfg *config.Config, eng *engine.Engine) *harness {
	return startHarnessOpts(t, cfg, eng, nil)
}

func startHarnessOpts(t testing.TB, cfg *config.Config, eng *engine.Engine, reload func() (*config.Config, error)) *harness {
	t.Helper()
	return startHarnessOptions(t, cfg, eng, Options{ReloadConfig: reload})
}

// startHarnessOptions starts a live service with o (its MQTT listener on a
// free loopback port; a discarding logger unless o has one).
func startHarnessOptions(t testing.TB, cfg *config.Config, eng *engine.Engine, o Options) *harness {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := &harness{t: t, eng: eng}
	var err error
	if eng == nil {
		h.eng = enginetest.Start(t, enginetest.Logger(log))
	}
	keysCtx, stopKeys := context.WithCancel(context.Background())
	t.Cleanup(stopKeys)
	if h.keys, err = api.OpenKeys(keysCtx, h.eng.JS, log); err != nil {
		t.Fatalf("keys: %v", err)
	}
	o.MQTTAddr = "127.0.0.1:0"
	if o.Logger == nil {
		o.Logger = log
	}
	h.s, err = New(cfg, h.eng.Conn, h.eng.JS, h.keys, prometheus.NewRegistry(), o)
	if err != nil {
		t.Fatalf("live: %v", err)
	}
	if err := h.s.Start(ctx); err != nil {
		t.Fatalf("live start: %v", err)
	}
	h.mqtt = h.s.MQTTAddr()
	mux := api.NewMux()
	h.s.Routes(mux, func(next http.Handler) http.Handler { return api.Authenticate(h.keys, next) })
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.srv.Close()
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.s.Stop(stop); err != nil {
			t.Errorf("live stop: %v", err)
		}
	})
	return h
}

// key creates an API key for client.
func (h *harness) key(client string) string {
	h.t.Helper()
	k, _, err := h.keys.Create(context.Background(), client)
	if err != nil {
		h.t.Fatal(err)
	}
	return k
}

// token mints a viewer token through the API, as the app backend would.
func (h *harness) token(user, name string) string {
	h.t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if code := h.do("POST", "/v1/live/tokens", h.key("app"), map[string]string{"user": user, "name": name}, &out); code != 201 {
		h.t.Fatalf("token: status %d", code)
	}
	return out.Token
}

// do sends a JSON request and decodes the answer into out; it returns the
// status.
func (h *harness) do(method, path, bearer string, body, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		h.t.Errorf("%s %s: error %d is not problem+json", method, path, resp.StatusCode)
	}
	return resp.StatusCode
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
