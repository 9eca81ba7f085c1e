package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// The harness runs the exchange the way `stadion up` does (see
// internal/server/server.go): a real embedded engine on a free port, keys, the
// admin key, the exchange and the same HTTP mux, served by httptest.

// testConfig has a realtime topic with a schema and a key (laps), a sync
// topic keyed by /id (roster) and a topic without a schema that the sub
// client may not read (notes).
const testConfig = `
exchange:
  max_body: 4KiB
topics:
  laps:
    kind: realtime
    schema: schemas/lap.json
    key: /athlete
    publishers: [pub]
    subscribers: [sub, sub2]
    description: lap times
  roster:
    kind: sync
    schema: schemas/roster.json
    key: /id
    publishers: [pub]
    subscribers: [sub]
  notes:
    publishers: [pub, other]
    subscribers: [other]
clients:
  pub: {}
  sub: {}
  sub2: {}
  other: {}
`

const lapSchemaID = "https://stadion.dev/schemas/test/lap.json"

const lapSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://stadion.dev/schemas/test/lap.json",
  "type": "object",
  "required": ["athlete", "n", "ms"],
  "additionalProperties": false,
  "properties": {
    "athlete": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
    "n": {"type": "integer", "minimum": 0},
    "ms": {"type": "integer", "minimum": 0},
    "tag": {"type": "string", "maxLength": 16},
    "splits": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    "at": {"type": "object", "properties": {"venue": {"type": "string"}}, "required": ["venue"]}
  }
}`

// rosterSchema has no $id and does not require the key, so a missing key
// reaches the exchange's own key check.
const rosterSchema = `{
  "type": "object",
  "properties": {
    "id": {"type": ["string", "integer"]},
    "name": {"type": "string"}
  }
}`

// testFS holds the schemas the configuration names.
func testFS() fstest.MapFS {
	return fstest.MapFS{
		"schemas/lap.json":    {Data: []byte(lapSchema)},
		"schemas/roster.json": {Data: []byte(rosterSchema)},
	}
}

// logBuffer is a bytes.Buffer safe for the concurrent writes of slog.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one running exchange with its engine and HTTP server.
type harness struct {
	t      *testing.T
	dir    string
	cfg    *config.Config
	eng    *engine.Engine
	keys   *api.Keys
	x      *Exchange
	srv    *httptest.Server
	client *http.Client
	admin  string
	logs   *logBuffer
	reg    *prometheus.Registry

	issued *issuedKeys
}

// issuedKeys are the keys handed out, checked absent from the logs.
type issuedKeys struct {
	mu   sync.Mutex
	keys []string
}

// as returns h reporting to t, for use inside subtests.
func (h *harness) as(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// newHarness starts everything from testConfig.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, testConfig)
}

func newHarnessWith(t *testing.T, yamlText string) *harness {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlText), testFS(), ".")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h := &harness{t: t, dir: t.TempDir(), cfg: cfg, logs: &logBuffer{}, issued: &issuedKeys{}}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// ctx lives as long as the harness: the keys follow their bucket with it.
	ctx, cancel := context.WithCancel(context.Background())
	startCtx, startCancel := context.WithTimeout(ctx, 30*time.Second)
	defer startCancel()
	h.eng = enginetest.Start(t, enginetest.Dir(h.dir), enginetest.Logger(log))
	t.Cleanup(func() {
		if h.srv != nil {
			h.x.Drain() // as the server's shutdown does: open streams end
			h.srv.Close()
		}
		cancel()
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if h.x != nil {
			if err := h.x.Stop(stopCtx); err != nil {
				t.Errorf("exchange stop: %v", err)
			}
		}
		if err := h.eng.Stop(stopCtx); err != nil {
			t.Errorf("engine stop: %v", err)
		}
		h.checkLogsHaveNoKeys()
		if t.Failed() {
			t.Logf("server log:\n%s", h.logs)
		}
	})

	h.keys, err = api.OpenKeys(ctx, h.eng.JS, log)
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	path, err := api.EnsureAdminKey(startCtx, h.keys, h.dir, log)
	if err != nil {
		t.Fatalf("admin key: %v", err)
	}
	h.admin = readKeyFile(t, path)
	h.remember(h.admin)

	reg := prometheus.NewRegistry()
	h.reg = reg
	h.x, err = New(cfg, h.eng.Conn, h.eng.JS, h.keys, reg, log)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	h.x.ServeNATS(h.eng)
	if err := h.x.Start(startCtx); err != nil {
		t.Fatalf("exchange start: %v", err)
	}
	h.srv = httptest.NewServer(serverHandler(h.eng, h.keys, cfg, h.x, reg, log))
	h.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
	}
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

// serverHandler builds the handler the way internal/server/server.go does.
func serverHandler(eng *engine.Engine, keys *api.Keys, cfg *config.Config, x *Exchange, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	mux := api.NewMux()
	auth := func(h http.Handler) http.Handler { return api.Authenticate(keys, h) }
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := eng.Ready(r.Context()); err != nil {
			return api.Unavailable(err.Error())
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	}))
	mux.Handle("/", api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return api.NotFound(fmt.Sprintf("no route for %s %s; the API is under /v1", r.Method, r.URL.Path))
	}))
	api.KeyRoutes(mux, keys, cfg, auth)
	x.Routes(mux, auth)
	return api.WriteDeadline(30*time.Second, api.NewHTTPMetrics(reg).Wrap(api.Recover(log, mux)))
}

func readKeyFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("admin key file: %v", err)
	}
	return strings.TrimSpace(string(raw))
}

func (h *harness) remember(key string) {
	h.issued.mu.Lock()
	h.issued.keys = append(h.issued.keys, key)
	h.issued.mu.Unlock()
}

// checkLogsHaveNoKeys fails the test if any key handed out appears, whole or
// by its secret part, in the server log.
func (h *harness) checkLogsHaveNoKeys() {
	logs := h.logs.String()
	h.issued.mu.Lock()
	defer h.issued.mu.Unlock()
	for _, k := range h.issued.keys {
		// stk_<16 hex id>_<secret>; the secret itself may hold '_'.
		secret := k[len("stk_")+17:]
		if strings.Contains(logs, k) || strings.Contains(logs, secret) {
			h.t.Errorf("the server log contains an API key (%s...)", k[:8])
		}
	}
}

// key creates a key for client through the admin API.
func (h *harness) key(client string) string {
	h.t.Helper()
	key, _ := h.keyWithID(client)
	return key
}

func (h *harness) keyWithID(client string) (key, id string) {
	h.t.Helper()
	r := h.do("POST", "/v1/clients/"+client+"/keys", h.admin, nil)
	if r.status != http.StatusCreated {
		h.t.Fatalf("create key for %s: %d %s", client, r.status, r.body)
	}
	var out struct{ Key, ID, Client string }
	r.decode(h.t, &out)
	if out.Key == "" || out.ID == "" || out.Client != client {
		h.t.Fatalf("create key for %s: %s", client, r.body)
	}
	h.remember(out.Key)
	return out.Key, out.ID
}

// reply is a whole HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %d answer %q: %v", r.status, r.body, err)
	}
}

// do sends a request; header is name, value pairs. An empty key sends no
// Authorization header.
func (h *harness) do(method, path, key string, body []byte, header ...string) reply {
	h.t.Helper()
	r, err := h.try(context.Background(), method, path, key, body, header...)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is do without failing the test, for use from other goroutines.
func (h *harness) try(ctx context.Context, method, path, key string, body []byte, header ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// publish posts body to a topic as JSON unless header names another
// Content-Type.
func (h *harness) publish(key, topic, body string, header ...string) reply {
	h.t.Helper()
	hasCT := false
	for i := 0; i < len(header); i += 2 {
		hasCT = hasCT || strings.EqualFold(header[i], "Content-Type")
	}
	if !hasCT {
		header = append(header, "Content-Type", "application/json")
	}
	return h.do("POST", "/v1/topics/"+topic+"/events", key, []byte(body), header...)
}

// mustPublish publishes one event and returns its receipt.
func (h *harness) mustPublish(key, topic, body string, header ...string) Receipt {
	h.t.Helper()
	r := h.publish(key, topic, body, header...)
	if r.status != http.StatusAccepted {
		h.t.Fatalf("publish to %s: %d %s", topic, r.status, r.body)
	}
	var rc Receipt
	r.decode(h.t, &rc)
	if rc.ID == "" || rc.Seq == 0 || rc.Topic != topic {
		h.t.Fatalf("publish to %s: bad receipt %s", topic, r.body)
	}
	return rc
}

// gotEvent is an event as read back.
type gotEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataSchema      string          `json:"dataschema"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	Seq             uint64          `json:"seq"`
	// All is every member, for extensions.
	All map[string]any `json:"-"`
}

func parseEvent(t *testing.T, raw []byte) gotEvent {
	t.Helper()
	var ev gotEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("event %s: %v", raw, err)
	}
	if err := json.Unmarshal(raw, &ev.All); err != nil {
		t.Fatalf("event %s: %v", raw, err)
	}
	return ev
}

// page is a replay answer with its events parsed.
type page struct {
	events []gotEvent
	next   uint64
}

// read reads a topic's events with query (e.g. "after_seq=3&limit=2").
func (h *harness) read(key, topic, query string) page {
	h.t.Helper()
	r := h.do("GET", "/v1/topics/"+topic+"/events?"+query, key, nil)
	if r.status != http.StatusOK {
		h.t.Fatalf("read %s?%s: %d %s", topic, query, r.status, r.body)
	}
	var p EventsPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		h.t.Fatalf("read %s: %v in %s", topic, err, r.body)
	}
	out := page{next: p.NextAfterSeq}
	for _, raw := range p.Events {
		out.events = append(out.events, parseEvent(h.t, raw))
	}
	return out
}

// readAll reads every stored event of a topic, page by page.
func (h *harness) readAll(key, topic string) []gotEvent {
	h.t.Helper()
	var all []gotEvent
	after := uint64(0)
	for {
		p := h.read(key, topic, fmt.Sprintf("after_seq=%d&limit=%d", after, maxLimit))
		all = append(all, p.events...)
		if len(p.events) == 0 {
			return all
		}
		after = p.next
	}
}

// stored is the number of events in a topic's stream, asked of the engine.
func (h *harness) stored(topic string) uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.eng.JS.Stream(ctx, StreamName(topic))
	if err != nil {
		h.t.Fatalf("stream %s: %v", topic, err)
	}
	return s.CachedInfo().State.Msgs
}

// natsConnect connects a plain NATS client to the engine's client port.
func (h *harness) natsConnect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	return nats.Connect(h.eng.ClientURL(), opts...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// problemBody is an RFC 9457 answer.
type problemBody struct {
	Type     string           `json:"type"`
	Title    string           `json:"title"`
	Status   int              `json:"status"`
	Detail   string           `json:"detail"`
	Instance string           `json:"instance"`
	Errors   []api.FieldError `json:"errors"`
	Accepted []string         `json:"accepted"`
}

// problem checks that r is a complete problem+json answer with status for
// the request path and returns it.
func problem(t *testing.T, r reply, status int, path string) problemBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemBody
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	if !strings.HasPrefix(p.Type, "https://stadion.dev/problems/") {
		t.Errorf("type %q", p.Type)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("title %q, detail %q: both must be set", p.Title, p.Detail)
	}
	if p.Status != status {
		t.Errorf("status member %d, want %d", p.Status, status)
	}
	if p.Instance != path {
		t.Errorf("instance %q, want %q", p.Instance, path)
	}
	return p
}
