package deadletter_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// givenUp records the advisories a watcher handed over, storing each as a
// dead letter of kind sub with the advisory's dedupe id, as the exchange does.
type givenUp struct {
	mu    sync.Mutex
	seen  []deadletter.Advisory
	store *deadletter.Store
}

func (g *givenUp) handle(ctx context.Context, a deadletter.Advisory) error {
	if _, err := g.store.Put(ctx, "work", a.MsgID(), a); err != nil {
		return err
	}
	g.mu.Lock()
	g.seen = append(g.seen, a)
	g.mu.Unlock()
	return nil
}

func (g *givenUp) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// startWatcher runs a watcher on eng until the test ends.
func startWatcher(t *testing.T, eng *engine.Engine, g *givenUp) *deadletter.Watcher {
	t.Helper()
	w := deadletter.NewWatcher(eng.JS, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, g.handle)
	cons, err := w.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, cons) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// workStream makes a topic-like stream and a consumer with a delivery
// limit of 2 and a 1 s ack wait, and publishes one event.
func workStream(t *testing.T, js jetstream.JetStream) jetstream.Consumer {
	t.Helper()
	ctx := t.Context()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}}); err != nil {
		t.Fatal(err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, "WORK", jetstream.ConsumerConfig{
		Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxDeliver: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "work.a", []byte("first")); err != nil {
		t.Fatal(err)
	}
	return c
}

// failTwice takes the event twice (its last attempt) and nacks it, each
// nack confirmed by the engine (as the exchange's are).
func failTwice(t *testing.T, nc *nats.Conn, c jetstream.Consumer) {
	t.Helper()
	for attempt := uint64(1); attempt <= 2; attempt++ {
		b, err := c.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range b.Messages() {
			md, _ := m.Metadata()
			if md.NumDelivered != attempt {
				t.Fatalf("delivery %d, want %d", md.NumDelivered, attempt)
			}
			if _, err := nc.Request(m.Reply(), []byte("-NAK"), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			got++
		}
		if got != 1 {
			t.Fatalf("attempt %d: %d events", attempt, got)
		}
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNudgeGivesUpWithoutHandingOut: an event nacked on its last attempt
// waits on the consumer's redelivery queue (the engine gives it up only
// when it looks for the next event to hand out); a nudge makes the engine
// give it up and announce it, hands out nothing (the next event stays
// pending, its delivery not counted), and the watcher stores one letter.
func TestNudgeGivesUpWithoutHandingOut(t *testing.T) {
	eng := enginetest.Start(t)
	g := &givenUp{store: deadletter.New(eng.JS, deadletter.Sub, nil, deadletter.Limits{})}
	if err := g.store.Open(t.Context(), "work", "d", nil); err != nil {
		t.Fatal(err)
	}
	w := startWatcher(t, eng, g)
	c := workStream(t, eng.JS)
	failTwice(t, eng.Conn, c)
	if _, err := eng.JS.Publish(t.Context(), "work.b", []byte("next")); err != nil {
		t.Fatal(err)
	}
	if err := w.Nudge(t.Context(), eng.Conn, "WORK", "workers"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the given-up event's advisory handled", func() bool { return g.count() == 1 })
	if a := g.seen[0]; a.Stream != "WORK" || a.Consumer != "workers" || a.StreamSeq != 1 {
		t.Fatalf("advisory %+v", a)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 1 {
		t.Fatalf("a nudge handed something out: ack pending %d, pending %d", info.NumAckPending, info.NumPending)
	}
	// The next event comes out untouched, on its first delivery.
	b, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range b.Messages() {
		md, _ := m.Metadata()
		if string(m.Data()) != "next" || md.NumDelivered != 1 {
			t.Fatalf("next event %q delivery %d", m.Data(), md.NumDelivered)
		}
	}
	if es, err := g.store.List(t.Context(), "work", 0, 10); err != nil || len(es) != 1 {
		t.Fatalf("dead letters %d %v", len(es), err)
	}
}

// TestStoreReplicated runs on a three-node cluster with engine.replicas 3:
// the store's streams get three copies, letters recorded through one node
// are listed and redriven through the others, and an event given up on a
// replicated consumer, watched by every node, gives exactly one letter.
func TestStoreReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("three engines")
	}
	nodes := enginetest.Cluster(t, 3, 3)
	ctx := t.Context()
	for _, kind := range []deadletter.Kind{deadletter.Sub, deadletter.Sink} {
		s1 := deadletter.New(nodes[0].JS, kind, nil, deadletter.Limits{})
		s2 := deadletter.New(nodes[1].JS, kind, nil, deadletter.Limits{})
		if err := s1.Open(ctx, "r3", "d", nil); err != nil {
			t.Fatal(err)
		}
		st, err := nodes[2].JS.Stream(ctx, deadletter.StreamName(kind, "r3"))
		if err != nil || st.CachedInfo().Config.Replicas != 3 {
			t.Fatalf("%s: replicas of the dead-letter stream: %v", kind, err)
		}
		for i := range 3 {
			if _, err := s1.Put(ctx, "r3", "", letter{N: i}); err != nil {
				t.Fatal(err)
			}
		}
		if es, err := s2.List(ctx, "r3", 0, 10); err != nil || len(es) != 3 {
			t.Fatalf("%s: listed through another node: %d %v", kind, len(es), err)
		}
		res, err := s2.Redrive(ctx, "r3", nil, func(context.Context, deadletter.Entry) error { return nil })
		if err != nil || res.Redriven != 3 {
			t.Fatalf("%s: redrive through another node: %+v %v", kind, res, err)
		}
	}

	g := &givenUp{store: deadletter.New(nodes[0].JS, deadletter.Sub, nil, deadletter.Limits{})}
	if err := g.store.Open(ctx, "work", "d", nil); err != nil {
		t.Fatal(err)
	}
	var ws []*deadletter.Watcher
	for _, n := range nodes {
		ws = append(ws, startWatcher(t, n, g))
	}
	c := workStream(t, nodes[1].JS)
	failTwice(t, nodes[1].Conn, c)
	waitFor(t, 30*time.Second, "the given-up event dead-lettered on R3", func() bool {
		_ = ws[2].Nudge(ctx, nodes[2].Conn, "WORK", "workers")
		es, _ := g.store.List(ctx, "work", 0, 10)
		return len(es) > 0
	})
	adv, err := nodes[0].JS.Stream(ctx, deadletter.AdvisoryStream)
	if err != nil || adv.CachedInfo().Config.Replicas != 3 {
		t.Fatalf("advisory stream replicas: %v", err)
	}
	waitFor(t, 30*time.Second, "every advisory handled", func() bool {
		info, err := adv.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	if es, err := g.store.List(ctx, "work", 0, 10); err != nil || len(es) != 1 {
		t.Fatalf("%d dead letters from one event watched by three nodes: %v", len(es), err)
	}
}
