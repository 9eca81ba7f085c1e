package exchange

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// BenchmarkGroupCommit compares, on one engine with fsync always and 64
// concurrent writers of ~1 KiB events, raw per-message JetStream publishes
// (each acknowledged after its own fsync) with the group commit (writes
// gathered into atomic batches, one fsync each). events/s is the figure to
// compare; both run in the same process on the same disk.
func BenchmarkGroupCommit(b *testing.B) {
	eng := enginetest.Start(b)
	ctx := context.Background()
	s, err := eng.JS.CreateOrUpdateStream(ctx, streamConfig("gc", &config.Topic{Kind: config.KindRealtime}, time.Minute, 4096))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 980))
	run := func(b *testing.B, write func(context.Context, *nats.Msg) error) {
		if err := s.Purge(ctx); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(32) // 64 writers on 2 cores
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m := nats.NewMsg("topic.gc.k")
				m.Data = body
				if err := write(ctx, m); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("raw", func(b *testing.B) {
		run(b, func(ctx context.Context, m *nats.Msg) error {
			_, err := eng.JS.PublishMsg(ctx, m, jetstream.WithExpectStream(StreamName("gc")))
			return err
		})
	})
	b.Run("group", func(b *testing.B) {
		cm := newCommitMetrics(prometheus.NewRegistry())
		g := newGroupCommit(eng.Conn, eng.JS, "gc", cm)
		defer g.close()
		defer func() {
			var m dto.Metric
			_ = cm.batchSize.WithLabelValues("gc").(prometheus.Metric).Write(&m)
			if n := m.GetHistogram().GetSampleCount(); n > 0 {
				b.ReportMetric(m.GetHistogram().GetSampleSum()/float64(n), "events/batch")
			}
		}()
		run(b, func(ctx context.Context, m *nats.Msg) error {
			_, err := g.write(ctx, []*nats.Msg{m})
			return err
		})
	})
}
