package ops

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

// TestLatencyBuiltinsReadTheCloudsMeasurements: gate_decision_latency
// reads the edges' latencies the cloud counts per venue (one venue, or
// all), and live_fanout the fan-out delay histogram; the old drop ratio
// is live_delivery.
func TestLatencyBuiltinsReadTheCloudsMeasurements(t *testing.T) {
	reg := prometheus.NewRegistry()
	gate := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "stadion_gate_decision_seconds", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"venue"})
	fan := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "stadion_live_fanout_delay_seconds", Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
	})
	delivered := prometheus.NewCounter(prometheus.CounterOpts{Name: "stadion_live_mqtt_delivered_total"})
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "stadion_live_mqtt_dropped_total"})
	reg.MustRegister(gate, fan, delivered, dropped)
	for range 9 {
		gate.WithLabelValues("bird-nest").Observe(0.002)
	}
	gate.WithLabelValues("bird-nest").Observe(0.5)
	gate.WithLabelValues("ice-cube").Observe(0.3)
	fan.Observe(0.02)
	fan.Observe(0.02)
	fan.Observe(0.9)
	delivered.Add(98)
	dropped.Add(2)
	raw, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := metricFamilies{}
	for _, f := range raw {
		fams[f.GetName()] = f
	}
	ms := func(d time.Duration) config.Duration { return config.Duration(d) }
	for _, tc := range []struct {
		in        config.Indicator
		comp      string
		good, all float64
	}{
		{config.Indicator{Builtin: "gate_decision_latency", Venue: "bird-nest", Threshold: ms(64 * time.Millisecond)}, "gate/bird-nest", 9, 10},
		{config.Indicator{Builtin: "gate_decision_latency", Threshold: ms(64 * time.Millisecond)}, "gate/venues", 9, 11},
		{config.Indicator{Builtin: "live_fanout", Threshold: ms(50 * time.Millisecond)}, "live/fanout", 2, 3},
		{config.Indicator{Builtin: "live_delivery"}, "live/fanout", 98, 100},
	} {
		src, comp, err := newSource(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		c := src.read(fams)
		if comp != tc.comp || c.Good != tc.good || c.Total != tc.all {
			t.Errorf("%s %s: component %q, %v good of %v; want %q, %v of %v", tc.in.Builtin, tc.in.Venue, comp, c.Good, c.Total, tc.comp, tc.good, tc.all)
		}
	}
}
