package exchange

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// commitRig is a topic stream on a real engine (fsync always) and its
// group commit, whose batches a test can hold back to gather writes.
type commitRig struct {
	t      *testing.T
	g      *groupCommit
	m      *commitMetrics
	stream jetstream.Stream
}

func newCommitRig(t *testing.T, maxMsg int32) *commitRig {
	t.Helper()
	eng := enginetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := eng.JS.CreateOrUpdateStream(ctx, streamConfig("gc", &config.Topic{Kind: config.KindRealtime}, time.Minute, maxMsg))
	if err != nil {
		t.Fatal(err)
	}
	if !s.CachedInfo().Config.AllowAtomicPublish {
		t.Fatal("the topic stream does not allow atomic batches")
	}
	m := newCommitMetrics(prometheus.NewRegistry())
	g := newGroupCommit(eng.Conn, eng.JS, "gc", m)
	t.Cleanup(g.close)
	return &commitRig{t: t, g: g, m: m, stream: s}
}

// hold takes every batch slot, so that writes gather in the queue.
func (r *commitRig) hold() {
	for range commitInflight {
		r.g.slots <- struct{}{}
	}
}

// release lets the gathered writes go once n events are queued.
func (r *commitRig) release(n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(r.m.queued.WithLabelValues("gc")) != float64(n) {
		if time.Now().After(deadline) {
			r.t.Fatalf("%v events queued, want %d", testutil.ToFloat64(r.m.queued.WithLabelValues("gc")), n)
		}
		time.Sleep(time.Millisecond)
	}
	for range commitInflight {
		<-r.g.slots
	}
}

type commitWrite struct {
	msgs []*nats.Msg
	acks []*jetstream.PubAck
	err  error
}

func msg(subject, id, body string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	if id != "" {
		m.Header.Set(jetstream.MsgIDHeader, id)
	}
	return m
}

// writeAll runs every write concurrently, gathered into one batch.
func (r *commitRig) writeAll(writes []*commitWrite) {
	r.t.Helper()
	n := 0
	for _, w := range writes {
		n += len(w.msgs)
	}
	r.hold()
	var wg sync.WaitGroup
	for _, w := range writes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w.acks, w.err = r.g.write(ctx, w.msgs)
		})
	}
	r.release(n)
	wg.Wait()
}

// stored reads the message at seq.
func (r *commitRig) stored(seq uint64) string {
	r.t.Helper()
	m, err := r.stream.GetMsg(context.Background(), seq)
	if err != nil {
		r.t.Fatalf("seq %d: %v", seq, err)
	}
	return string(m.Data)
}

func (r *commitRig) count() uint64 {
	r.t.Helper()
	info, err := r.stream.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Msgs
}

// batches returns how many engine writes the group commit made and how
// many events they held.
func (r *commitRig) batches() (writes uint64, events float64) {
	r.t.Helper()
	var m dto.Metric
	if err := r.m.batchSize.WithLabelValues("gc").(prometheus.Metric).Write(&m); err != nil {
		r.t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

func TestGroupCommitStoresConcurrentWritesInOneBatch(t *testing.T) {
	r := newCommitRig(t, 4096)
	var writes []*commitWrite
	for i := range 20 {
		writes = append(writes, &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "", fmt.Sprintf("single %d", i))}})
	}
	var five []*nats.Msg
	for i := range 5 {
		five = append(five, msg("topic.gc.k", "", fmt.Sprintf("batch %d", i)))
	}
	writes = append(writes, &commitWrite{msgs: five})
	r.writeAll(writes)

	seen := map[uint64]bool{}
	for _, w := range writes {
		if w.err != nil {
			t.Fatalf("write: %v", w.err)
		}
		if len(w.acks) != len(w.msgs) {
			t.Fatalf("%d acks for %d events", len(w.acks), len(w.msgs))
		}
		for i, ack := range w.acks {
			if ack.Duplicate || seen[ack.Sequence] {
				t.Fatalf("ack %+v: duplicate or seen twice", ack)
			}
			seen[ack.Sequence] = true
			if got := r.stored(ack.Sequence); got != string(w.msgs[i].Data) {
				t.Errorf("seq %d holds %q, want %q", ack.Sequence, got, w.msgs[i].Data)
			}
		}
	}
	if n := r.count(); n != 25 {
		t.Errorf("stream holds %d events, want 25", n)
	}
	if writes, events := r.batches(); writes != 1 || events != 25 {
		t.Errorf("%d engine writes of %v events, want 1 of 25", writes, events)
	}
}

func TestGroupCommitKeepsIdempotencyExact(t *testing.T) {
	r := newCommitRig(t, 4096)
	// An event stored earlier, then a batch that repeats its id, repeats
	// an id of its own, and has events with and without ids.
	first := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "a", "first a")}}
	r.writeAll([]*commitWrite{first})
	if first.err != nil {
		t.Fatal(first.err)
	}
	b1 := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "b", "first b")}}
	aAgain := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "a", "a again")}}
	plain := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "", "no id")}}
	b2 := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "b", "b again")}}
	// Enough neighbours for an atomic batch (commitMinBatch).
	var more []*nats.Msg
	for i := range commitMinBatch {
		more = append(more, msg("topic.gc.k", fmt.Sprintf("m%d", i), fmt.Sprintf("neighbour %d", i)))
	}
	neighbours := &commitWrite{msgs: more}
	r.writeAll([]*commitWrite{b1, aAgain, plain, b2, neighbours})
	if neighbours.err != nil || len(neighbours.acks) != commitMinBatch {
		t.Fatalf("the neighbours of the duplicates: %v, %d acks", neighbours.err, len(neighbours.acks))
	}

	for _, w := range []*commitWrite{b1, aAgain, plain, b2} {
		if w.err != nil {
			t.Fatalf("write %q: %v", w.msgs[0].Data, w.err)
		}
	}
	if !aAgain.acks[0].Duplicate || aAgain.acks[0].Sequence != first.acks[0].Sequence {
		t.Errorf("repeat of a: %+v, want the duplicate of seq %d", aAgain.acks[0], first.acks[0].Sequence)
	}
	// Of the two b, whichever the engine saw first is stored, the other
	// is its duplicate.
	stored, dup := b1, b2
	if b1.acks[0].Duplicate {
		stored, dup = b2, b1
	}
	if stored.acks[0].Duplicate || !dup.acks[0].Duplicate || dup.acks[0].Sequence != stored.acks[0].Sequence {
		t.Errorf("b acks %+v and %+v: want one stored and its duplicate", b1.acks[0], b2.acks[0])
	}
	if got := r.stored(plain.acks[0].Sequence); got != "no id" {
		t.Errorf("the event without id is stored as %q", got)
	}
	if n := r.count(); n != uint64(3+commitMinBatch) {
		t.Errorf("stream holds %d events, want %d (a, b, no id, the neighbours)", n, 3+commitMinBatch)
	}
	if got := testutil.ToFloat64(r.m.retried.WithLabelValues("gc")); got != 1 {
		t.Errorf("refused batches = %v, want 1", got)
	}
}

func TestGroupCommitFailingEventSparesItsNeighbours(t *testing.T) {
	r := newCommitRig(t, 1024)
	good := []*commitWrite{
		{msgs: []*nats.Msg{msg("topic.gc.k", "", "one")}},
		{msgs: []*nats.Msg{msg("topic.gc.k", "", "two"), msg("topic.gc.k", "", "three")}},
	}
	for i := range commitMinBatch {
		good = append(good, &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "", fmt.Sprintf("more %d", i))}})
	}
	bad := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "", strings.Repeat("x", 2048))}}
	r.writeAll(append(good, bad))

	if bad.err == nil {
		t.Error("an event over the stream's largest message was acknowledged")
	}
	for _, w := range good {
		if w.err != nil {
			t.Fatalf("a neighbour of the failing event failed: %v", w.err)
		}
		for i, ack := range w.acks {
			if got := r.stored(ack.Sequence); got != string(w.msgs[i].Data) {
				t.Errorf("seq %d holds %q, want %q", ack.Sequence, got, w.msgs[i].Data)
			}
		}
	}
	if n := r.count(); n != uint64(3+commitMinBatch) {
		t.Errorf("stream holds %d events, want %d", n, 3+commitMinBatch)
	}
	if got := testutil.ToFloat64(r.m.retried.WithLabelValues("gc")); got != 1 {
		t.Errorf("refused batches = %v, want 1", got)
	}
}

func TestGroupCommitRefusesWritesAfterClose(t *testing.T) {
	r := newCommitRig(t, 4096)
	w := &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "", "before")}}
	r.writeAll([]*commitWrite{w})
	if w.err != nil {
		t.Fatal(w.err)
	}
	g := newGroupCommit(r.g.nc, r.g.js, "gc", r.m)
	g.close()
	if _, err := g.write(context.Background(), []*nats.Msg{msg("topic.gc.k", "", "after")}); err != errCommitStopped {
		t.Errorf("write after close: %v, want errCommitStopped", err)
	}
}

func TestGroupCommitWritesSmallGroupsOneByOne(t *testing.T) {
	r := newCommitRig(t, 4096)
	var writes []*commitWrite
	for i := range commitMinBatch - 1 {
		writes = append(writes, &commitWrite{msgs: []*nats.Msg{msg("topic.gc.k", "", fmt.Sprintf("e%d", i))}})
	}
	r.writeAll(writes)
	for _, w := range writes {
		if w.err != nil {
			t.Fatal(w.err)
		}
		if got := r.stored(w.acks[0].Sequence); got != string(w.msgs[0].Data) {
			t.Errorf("seq %d holds %q, want %q", w.acks[0].Sequence, got, w.msgs[0].Data)
		}
	}
	if writes, events := r.batches(); writes != commitMinBatch-1 || events != commitMinBatch-1 {
		t.Errorf("%d engine writes of %v events, want %d single writes", writes, events, commitMinBatch-1)
	}
}
