package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// rig is an embedded NATS server with JetStream (port -1, fsync always),
// as the engine runs it, to which each simulated stadion process opens its
// own connection.
type rig struct {
	srv *server.Server
	js  jetstream.JetStream
}

func newRig(t testing.TB) *rig { return newRigSync(t, true) }

// newRigSync is newRig with the fsync policy chosen (benchmarks publish
// their input faster without it).
func newRigSync(t testing.TB, syncAlways bool) *rig {
	t.Helper()
	r := &rig{srv: enginetest.Server(t, enginetest.Sync(syncAlways))}
	_, r.js = r.connect(t)
	return r
}

// connect opens a new connection, as another process would.
func (r *rig) connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return enginetest.Connect(t, r.srv.ClientURL())
}

// topic creates a topic's stream as the exchange does.
func (r *rig) topic(t testing.TB, name string) {
	t.Helper()
	_, err := r.js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: exchange.StreamName(name), Subjects: []string{exchange.SubjectFilter(name)},
		Storage: jetstream.FileStorage, AllowDirect: true,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// publish stores data as a CloudEvent on topic with key; it returns the seq.
func (r *rig) publish(t testing.TB, topic, key string, data any) uint64 {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(exchange.Event{
		SpecVersion: "1.0", ID: nats.NewInbox()[7:], Source: "/clients/test", Type: "stadion.topic." + topic,
		Subject: key, Time: time.Now().UTC(), DataContentType: "application/json", Data: raw,
	})
	ack, err := r.js.Publish(context.Background(), "topic."+topic+"."+key, env)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

const arrivalSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "personId": {"type": "string"},
    "flight": {"type": "object", "properties": {
      "number": {"type": "string"}, "eta": {"type": "string", "format": "date-time"}}},
    "bags": {"type": "integer"},
    "status": {"type": "string"}
  }
}`

// testConfig parses a config with the arrivals topic and the given sinks.
func testConfig(t testing.TB, databases, sinks string) *config.Config {
	t.Helper()
	doc := "topics:\n  arrivals:\n    schema: arrival.json\n    key: /personId\n" + databases + sinks
	cfg, err := config.Parse([]byte(doc), fstest.MapFS{"arrival.json": {Data: []byte(arrivalSchema)}}, ".")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	return cfg
}

const arrivalsSink = `sinks:
  arrivals-db:
    topic: arrivals
    table: arrivals
    key: [person_id, flight]
    columns: {person_id: /personId, flight: /flight/number, eta: /flight/eta, bags: /bags, status: /status}
    batch: {size: 100, max_wait: 20ms}
    max_attempts: 2
`

// startService runs a delivery service on js until the test ends.
func startService(t testing.TB, cfg *config.Config, js jetstream.JetStream, dataDir string, ackWait time.Duration) *Service {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg, js, prometheus.NewRegistry(), log, Options{DataDir: dataDir, AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// arrival is one test event; status encodes the seq so the latest wins.
func arrival(person, flight string, n int) map[string]any {
	return map[string]any{
		"personId": person, "flight": map[string]any{"number": flight, "eta": "2022-02-04T12:00:00+08:00"},
		"bags": n % 3, "status": fmt.Sprintf("update-%d", n),
	}
}
