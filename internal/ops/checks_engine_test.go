package ops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// TestEngineChecks fills a real stream towards its byte limit and reads
// the engine's checks.
func TestEngineChecks(t *testing.T) {
	eng := startEngine(t)
	ctx := context.Background()
	if _, err := eng.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "TOPIC_tiny", Subjects: []string{"topic.tiny.>"}, MaxBytes: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	for range 15 {
		if _, err := eng.JS.Publish(ctx, "topic.tiny.x", []byte(strings.Repeat("x", 1000))); err != nil {
			t.Fatal(err)
		}
	}
	e := &EngineChecks{JS: eng.JS, MaxDisk: 1 << 30, MaxMemory: 64 << 20, SlowConsumers: eng.SlowConsumers,
		ClusterPeers: func() (int, int, bool) { return 5, 3, true }}
	got := map[string]Check{}
	for _, c := range e.Checks(ctx) {
		got[c.Component+" "+c.Name] = c
	}
	if c := got["stream/TOPIC_tiny bytes_used"]; c.Value < 0.9 || c.Value > 1 || c.Warn != 0.8 {
		t.Errorf("bytes_used %+v", c)
	}
	if c := got["engine disk_used"]; c.Value <= 0 || c.Value > 0.001 {
		t.Errorf("disk_used %+v", c)
	}
	if c := got["engine cluster_peers_missing"]; c.Value != 2 || c.Crit != 2 {
		t.Errorf("cluster_peers_missing %+v: 3 of 5 current is at the edge of the quorum", c)
	}
	if _, ok := got["engine slow_consumers"]; !ok {
		t.Error("no slow_consumers check")
	}
	var checks []Check
	for _, c := range got {
		checks = append(checks, c)
	}
	rep := Evaluate(time.Now(), checks, config.Health{}, nil)
	if len(rep.Risks) == 0 || (rep.Risks[0].Check != "cluster_peers_missing" && rep.Risks[0].Check != "bytes_used") {
		t.Errorf("risks %+v", rep.Risks)
	}
}
