package console

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// BenchmarkSample measures one sample of a registry shaped like a large
// deployment's (200 topics with a counter and a histogram each, 50 sinks,
// the Go and process collectors): what the console's goroutine spends
// every 5 s. The reference is the same registry's Gather alone, the part
// any Prometheus scrape pays too; the ratio is what the console adds.
func BenchmarkSample(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pub := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stadion_exchange_events_published_total", Help: "x"}, []string{"topic"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stadion_exchange_publish_duration_seconds", Help: "x"}, []string{"topic"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stadion_sink_lag", Help: "x"}, []string{"sink"})
	reg.MustRegister(pub, dur, lag)
	for i := range 200 {
		pub.WithLabelValues(fmt.Sprint("t", i)).Add(float64(i))
		dur.WithLabelValues(fmt.Sprint("t", i)).Observe(0.001)
	}
	for i := range 50 {
		lag.WithLabelValues(fmt.Sprint("s", i)).Set(float64(i))
	}
	c := New(Options{Config: &config.Config{}, Gatherer: reg, Reg: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Streams: api.NewStreams(1, time.Second, prometheus.NewRegistry())})
	b.Run("gather", func(b *testing.B) {
		for b.Loop() {
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sample", func(b *testing.B) {
		now := time.Now()
		for b.Loop() {
			now = now.Add(DefaultInterval)
			c.sample(now, DefaultInterval)
		}
	})
}
