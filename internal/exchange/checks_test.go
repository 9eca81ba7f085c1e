package exchange

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPublishChecks drives the exchange's publish counters and reads the
// health checks between two evaluations.
func TestPublishChecks(t *testing.T) {
	x := &Exchange{m: newMetrics(prometheus.NewRegistry())}
	if cs := x.publishChecks(); cs != nil {
		t.Fatalf("first evaluation gave %+v; it has nothing to compare with", cs)
	}
	if cs := x.publishChecks(); cs != nil {
		t.Fatalf("no publishes gave %+v", cs)
	}
	x.m.published.WithLabelValues("laps").Add(90)
	x.m.rejected.WithLabelValues("laps", reasonSchema).Add(8)
	x.m.rejected.WithLabelValues("laps", reasonEngine).Add(2)
	for range 98 {
		x.m.latency.WithLabelValues("laps").Observe(0.003)
	}
	x.m.latency.WithLabelValues("laps").Observe(0.3)
	x.m.latency.WithLabelValues("laps").Observe(30) // past the last bucket
	got := map[string]float64{}
	for _, c := range x.publishChecks() {
		got[c.Name] = c.Value
		if c.Name == "rejected" && c.Detail != "publishes refused for the caller's reasons since the last evaluation: schema 8" {
			t.Errorf("rejected detail %q", c.Detail)
		}
	}
	want := map[string]float64{"publish_errors": 0.02, "rejected": 0.08, "publish_p99": 0.5}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %g, want %g (all %v)", k, got[k], v, got)
		}
	}
	x.m.published.WithLabelValues("laps").Add(10)
	x.m.latency.WithLabelValues("laps").Observe(0.001)
	for _, c := range x.publishChecks() {
		if c.Name == "publish_errors" && c.Value != 0 {
			t.Errorf("errors of the last interval counted again: %g", c.Value)
		}
		if c.Name == "publish_p99" && c.Value != 0.001 {
			t.Errorf("p99 of one 1 ms publish: %g", c.Value)
		}
	}
}
