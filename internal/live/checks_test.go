package live

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

func TestDropRate(t *testing.T) {
	var d dropRate
	t0 := time.Unix(1000, 0)
	if _, ok := d.perMinute(50, t0); ok {
		t.Error("a rate from one reading")
	}
	if r, ok := d.perMinute(350, t0.Add(30*time.Second)); !ok || r != 600 {
		t.Errorf("300 drops in 30 s = %g/min (%v), want 600", r, ok)
	}
	if _, ok := d.perMinute(10, t0.Add(time.Minute)); ok {
		t.Error("a counter that went back (restart) gave a rate")
	}
	if r, ok := d.perMinute(10, t0.Add(2*time.Minute)); !ok || r != 0 {
		t.Errorf("no drops = %g (%v)", r, ok)
	}
}

// TestHealthChecks connects real MQTT viewers against a cap of 4 and reads
// the live checks: connections against the cap and the moderation backlog.
func TestHealthChecks(t *testing.T) {
	h := newHarness(t, testConfig+"  mqtt: {max_connections: 4}\n")
	for i := range 3 {
		pahoConnect(t, "tcp://"+h.mqtt, fmt.Sprintf("viewer-%d", i), "")
	}
	var got map[string]ops.Check
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = map[string]ops.Check{}
		for _, c := range h.s.Checks(context.Background()) {
			got[c.Name] = c
		}
		if got["connections_used"].Value == 0.75 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections_used %+v, want 3 of 4", got["connections_used"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, ok := got["moderation_backlog"]; !ok || c.Value != 0 {
		t.Errorf("moderation_backlog %+v (%v)", c, ok)
	}
	if c := got["connections_used"]; c.Component != "live" || c.Warn != 0.8 {
		t.Errorf("connections_used %+v", c)
	}
}
