package ops

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAnomaliesMergedAcrossReplicas: two services on one engine (two
// replicas) each mine their own logs; GET /v1/anomalies on either lists
// the classes of both, counts added by class, and a replica's newer
// summary replaces its older one instead of adding to it.
func TestAnomaliesMergedAcrossReplicas(t *testing.T) {
	eng := sloTestEngine(t)
	cfg := parseConfig(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := func() *SLOService {
		s, err := NewSLOService(SLOOptions{Config: cfg, JS: eng.JS, Gatherer: prometheus.NewRegistry(), Registry: prometheus.NewRegistry(), Logger: sloQuietLog()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Stop(ctx)
		})
		return s
	}
	a, b := start(), start()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	locked := func(s *SLOService, n int, at time.Time) {
		for i := range n {
			s.anomalies.Add(LogLine{Time: at.Add(time.Duration(i) * time.Second), Level: slog.LevelWarn, Component: "delivery",
				Text: fmt.Sprintf("sink write failed sink=results-db attempt=%d error=database is locked", i), Message: "sink write failed"})
		}
	}
	locked(a, 3, t0.Add(10*time.Second))
	locked(b, 5, t0)
	b.anomalies.Add(LogLine{Time: t0, Level: slog.LevelInfo, Component: "exchange", Text: "topic created topic=laps", Message: "topic created"})
	publish := func() {
		a.share.publish(ctx, a.anomalies.Classes())
		b.share.publish(ctx, b.anomalies.Classes())
	}
	publish()

	find := func(cs []AnomalyClass, component string) (AnomalyClass, bool) {
		for _, c := range cs {
			if c.Component == component {
				return c, true
			}
		}
		return AnomalyClass{}, false
	}
	merged := func(s *SLOService, count int64) func() bool {
		return func() bool {
			cs := s.Anomalies()
			w, ok := find(cs, "delivery")
			i, iok := find(cs, "exchange")
			return ok && iok && len(cs) == 2 && w.Count == count && w.Processes == 2 && w.Anomalous && w.Level == "warn" &&
				w.FirstSeen.Equal(t0.UTC()) && i.Count == 1 && i.Processes == 1
		}
	}
	sloWaitFor(t, "replica a to list both replicas' classes", merged(a, 8))
	sloWaitFor(t, "replica b to list both replicas' classes", merged(b, 8))
	if own := a.anomalies.Classes(); len(own) != 1 || own[0].Count != 3 {
		t.Fatalf("replica a's own classes changed: %+v", own)
	}

	// a logs twice more: its newer summary replaces the old one.
	locked(a, 2, t0.Add(20*time.Second))
	publish()
	sloWaitFor(t, "replica b to see a's newer count", merged(b, 10))
	if w, _ := find(a.Anomalies(), "delivery"); w.Count != 10 {
		t.Errorf("replica a counts %d, want 10", w.Count)
	}
}
