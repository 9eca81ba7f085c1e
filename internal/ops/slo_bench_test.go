package ops

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

// BenchmarkSLOTick100 evaluates 100 SLOs whose mirrors hold a full
// history (30 days of hours, 6 hours of minutes), with the default burn
// tiers: one Tick is what each replica does every slo_policy.interval.
// It reports the heap the history takes.
func BenchmarkSLOTick100(b *testing.B) {
	var y strings.Builder
	y.WriteString("slos:\n")
	for i := range 100 {
		fmt.Fprintf(&y, "  s%d:\n    objective: 0.999\n    indicator: {builtin: delivery_success, subscription: s%d}\n", i, i)
	}
	cfg, err := config.Parse([]byte(y.String()), fstest.MapFS{}, ".")
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pushes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stadion_subscription_pushes_total", Help: "bench"}, []string{"subscription", "outcome"})
	reg.MustRegister(pushes)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := NewSLOs(context.Background(), cfg, nil, reg, &alertRecorder{}, nil, sloQuietLog())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).Truncate(time.Hour)
	for _, d := range s.defs {
		for h := range 30 * 24 {
			s.store.local(d.name, now.Add(-time.Duration(h)*time.Hour), Counts{Good: 999, Total: 1000})
		}
		for m := range 6 * 60 {
			s.store.local(d.name, now.Add(-time.Duration(m)*time.Minute), Counts{Good: 17, Total: 17})
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	history := float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc)) / (1 << 20)
	s.now = func() time.Time { return now }
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pushes.WithLabelValues(fmt.Sprint("s", i%100), "ok").Inc()
		s.Tick(context.Background())
	}
	b.ReportMetric(history, "MiB-history")
}
