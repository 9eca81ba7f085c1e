package delivery

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/stadion-dev/stadion/internal/engine"
)

// max_rate is for the whole deployment: two processes on one engine, each
// counted by the engine's presence bucket, take half of it each, and the
// one left takes all of it when the other leaves. Every row still arrives
// once.
func TestMaxRateIsSharedByReplicas(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	dir := t.TempDir()
	cfg := testConfig(t, "", strings.Replace(arrivalsSink, "max_attempts: 2\n", "max_attempts: 2\n    max_rate: 400/s\n", 1))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(id string) (*Service, *engine.Presence) {
		_, js := r.connect(t)
		p, err := engine.JoinPresence(t.Context(), js, id, log)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(cfg, js, prometheus.NewRegistry(), log, Options{DataDir: dir, Peers: p})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(context.Background()); _ = p.Leave(context.Background()) })
		return s, p
	}
	limit := func(s *Service) rate.Limit { return s.sinks["arrivals-db"].limiter.Limit() }
	a, _ := start("process-a")
	if got := limit(a); got != 400 {
		t.Fatalf("alone: limit %v, want 400", got)
	}
	b, pb := start("process-b")
	waitFor(t, "both processes to take half of max_rate", func() bool { return limit(a) == 200 && limit(b) == 200 })

	want := publishUpdates(t, r, 30, 2)
	db := sqliteSinkDB(t, dir)
	waitFor(t, "every row written", func() bool { return sameRows(tableStatuses(t, db, a), want) })

	if err := pb.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process left to take all of max_rate", func() bool { return limit(a) == 400 })
}
