package live

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
)

// bridgeQueue makes one process in the deployment republish each event.
const bridgeQueue = "live-bridge"

// Bounds of the bridge (docs/ARCHITECTURE.md, "Live comments").
const (
	// bridgeMaxPending is the default cap of distinct retained topics
	// waiting for the writer (Options.BridgeMaxPending).
	bridgeMaxPending = 10_000
	// bridgeMaxPendingBytes caps their payloads.
	bridgeMaxPendingBytes = 64 << 20
	// bridgeWait is how long the callback waits for room in a full
	// pending set before it gives up an event's retained message.
	bridgeWait = 10 * time.Second
	// bridgeInFlight is how many writes the writer has unacknowledged.
	bridgeInFlight = 1024
	// bridgeWriteTimeout bounds the wait for a chunk's acknowledgements.
	bridgeWriteTimeout = 10 * time.Second
	// bridgeBackoff and bridgeMaxBackoff pace the writer's retries.
	bridgeBackoff    = 100 * time.Millisecond
	bridgeMaxBackoff = 5 * time.Second
)

// bridge republishes the events of bridged exchange topics to MQTT: the
// whole CloudEvent on the prefix topic, and on prefix/{key} for keyed
// events, both retained so that a screen that connects gets the latest
// at once.
//
// The subscription's callback never waits for the engine: it publishes
// every event live at once (viewers watching see each one, in order) and
// records it as its targets' newest retained value in the pending set.
// One writer per process stores what is due, the newest payload per
// target, pipelining up to bridgeInFlight KV puts: a burst costs one
// write per target and round, not two round trips per event.
type bridge struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	m       *metrics
	log     *slog.Logger
	pending *pendingSet
	r       *retained // set by Start

	mu      sync.Mutex
	subs    []*nats.Subscription
	dropped []int // each subscription's slow-consumer drops, last sampled

	closing chan struct{}
	stopBy  atomic.Pointer[time.Time] // the flush deadline, set before closing

	full    atomic.Bool // the pending set refused a record; logged once per streak
	failing bool        // the writer's last round failed (writer goroutine only)
	failed  int         // writes failed in the streak
}

func newBridge(s *Service) *bridge {
	limit := s.opts.BridgeMaxPending
	if limit <= 0 {
		limit = bridgeMaxPending
	}
	return &bridge{
		nc: s.nc, js: s.js, m: s.m, log: s.log,
		pending: newPendingSet(limit, bridgeMaxPendingBytes),
		closing: make(chan struct{}),
	}
}

// start subscribes to the bridged topics and runs the writer.
func (b *bridge) start(s *Service) error {
	b.r = s.retained
	for topic, prefix := range s.cfg.Live.Bridge {
		prefixSubject := topicSubject(prefix)
		sub, err := b.nc.QueueSubscribe("topic."+topic+".>", bridgeQueue, func(m *nats.Msg) { b.republish(prefix, prefixSubject, m) })
		if err != nil {
			return err
		}
		sub.SetPendingLimits(1<<16, 64<<20)
		b.mu.Lock()
		b.subs = append(b.subs, sub)
		b.dropped = append(b.dropped, 0)
		b.mu.Unlock()
	}
	s.run(b.run)
	return nil
}

// republish runs for every event, in the order of the topic's stream.
func (b *bridge) republish(prefix, prefixSubject string, m *nats.Msg) {
	b.m.bridgeEvents.Inc()
	b.nc.Publish(prefixSubject, m.Data)
	key := ""
	if i := strings.LastIndexByte(m.Subject, '.'); i >= 0 {
		if k := m.Subject[i+1:]; k != "_" && config.ValidTopicLevel(k) {
			key = k
			b.nc.Publish(prefixSubject+"."+key, m.Data)
		}
	}
	// An empty payload would clear a retained message: exchange events
	// are never empty, so one is only passed on live.
	if len(m.Data) == 0 {
		return
	}
	b.record(prefix, m.Data)
	if key != "" {
		b.record(prefix+"/"+key, m.Data)
	}
}

func (b *bridge) record(topic string, payload []byte) {
	coalesced, err := b.pending.record(topic, payload, bridgeWait)
	switch {
	case err == nil:
		if coalesced {
			b.m.bridgeCoalesced.Inc()
		}
		if b.full.Load() && b.full.CompareAndSwap(true, false) {
			b.log.Info("bridge: retained messages are recorded again")
		}
	case err == errPendingFull:
		b.m.bridgeLost.Inc()
		if b.full.CompareAndSwap(false, true) {
			topics, _ := b.pending.size()
			b.log.Warn("bridge: retained messages waiting for the engine stayed at their cap; newer events' retained messages are given up (viewers watching still get them live) until the writer catches up",
				"topic", topic, "pending", topics, "waited", bridgeWait)
		}
	default: // stopping
		b.m.bridgeLost.Inc()
	}
}

// run is the writer: it stores what is due until the bridge stops, then
// flushes what is pending within the stop deadline.
func (b *bridge) run() {
	backoff := time.Duration(0)
	for {
		select {
		case <-b.pending.wake:
		case <-b.closing:
			b.flush()
			return
		}
		if b.writeDue(context.Background()) {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, bridgeBackoff), bridgeMaxBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
			b.pending.poke()
		case <-b.closing:
			t.Stop()
			b.flush()
			return
		}
	}
}

// writeDue stores the due entries, bridgeInFlight at a time, until none
// is due or a write fails (false: retry after a pause).
func (b *bridge) writeDue(ctx context.Context) bool {
	for {
		batch := b.pending.take(bridgeInFlight)
		if len(batch) == 0 {
			return true
		}
		if !b.write(ctx, batch) {
			return false
		}
	}
}

// write stores batch, one KV put per entry, all in flight at once. Puts
// on one connection to one stream are stored in the order they were
// sent, so a put that failed here (or timed out and is stored late) is
// never stored after a newer one for its topic, which is only sent once
// this batch is settled.
func (b *bridge) write(ctx context.Context, batch []pendingWrite) bool {
	ctx, cancel := context.WithTimeout(ctx, bridgeWriteTimeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, len(batch))
	var firstErr error
	for i, w := range batch {
		f, err := b.js.PublishAsync(b.r.subject(w.topic), w.payload)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		futures[i] = f
	}
	failed := 0
	for i, w := range batch {
		ack, err := wait(ctx, futures[i], firstErr)
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			b.pending.finish(w, false)
			continue
		}
		b.r.put(w.topic, w.payload, ack.Sequence)
		b.pending.finish(w, true)
		b.m.bridgeWrites.Inc()
	}
	b.settle(failed, len(batch), firstErr)
	return failed == 0
}

// wait waits for f's acknowledgement; a future that was never made
// failed with failed.
func wait(ctx context.Context, f jetstream.PubAckFuture, failed error) (*jetstream.PubAck, error) {
	if f == nil {
		return nil, failed
	}
	ack, err := engine.AwaitAck(ctx, f)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("no acknowledgement: %w", err)
	}
	return ack, err
}

// settle counts a round's failures and logs a streak of them once, at
// its start and at its end.
func (b *bridge) settle(failed, of int, err error) {
	if failed == 0 {
		if b.failing {
			b.log.Info("bridge: retained messages stored again", "failed_writes", b.failed)
			b.failing, b.failed = false, 0
		}
		return
	}
	b.m.bridgeFailures.Add(float64(failed))
	b.failed += failed
	if !b.failing {
		b.failing = true
		b.log.Warn("bridge: retained messages not stored; retrying with each topic's newest (logged again when they are stored)",
			"failed", failed, "of", of, "err", engine.Explain(b.js, err))
	}
}

// stop ends the subscriptions and has the writer flush what is pending
// until deadline; the service's wait group waits for the writer.
func (b *bridge) stop(deadline time.Time) {
	b.slowConsumerDrops() // keep the counts of the subscriptions ended here
	b.mu.Lock()
	for _, sub := range b.subs {
		sub.Unsubscribe()
	}
	b.mu.Unlock()
	b.stopBy.Store(&deadline)
	select {
	case <-b.closing:
	default:
		close(b.closing)
	}
}

// flush stores what is pending until nothing is or the stop deadline
// passes, then refuses further records.
func (b *bridge) flush() {
	defer b.pending.close()
	deadline := time.Now().Add(bridgeWriteTimeout)
	if d := b.stopBy.Load(); d != nil && !d.IsZero() {
		// Leave a tenth of the time for the rest of the stop.
		deadline = d.Add(-time.Until(*d) / 10)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	backoff := bridgeBackoff
	for !b.writeDue(ctx) {
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
			backoff = min(2*backoff, bridgeMaxBackoff)
		case <-ctx.Done():
			t.Stop()
			_, due := b.pending.size()
			b.log.Warn("bridge: retained messages not stored before the stop deadline", "due", due)
			return
		}
	}
}

// slowConsumerDrops is the events the engine client dropped because a
// bridge subscription's buffer was full, sampled (a stopped
// subscription keeps its last count).
func (b *bridge) slowConsumerDrops() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for i, sub := range b.subs {
		if d, err := sub.Dropped(); err == nil {
			b.dropped[i] = d
		}
		n += int64(b.dropped[i])
	}
	return n
}

// pin sets (or with an empty payload clears) a room's pinned message:
// retained on live/{room}/pinned and sent to the room's viewers. The
// message must be strict JSON (api.CheckJSON), whether it came over HTTP
// or MQTT: every viewer's client parses it.
func (s *Service) pin(ctx context.Context, room string, payload []byte) error {
	if len(payload) > 0 {
		if err := api.CheckJSON(payload); err != nil {
			return fmt.Errorf("the pinned message is not strict JSON: %w", err)
		}
	}
	t := pinnedTopic(room)
	if err := s.retained.set(ctx, t, payload); err != nil {
		return err
	}
	// A cleared pin reaches the viewers watching too, as an empty message
	// (MQTT-3.3.1-10), and their pages hide it.
	return s.nc.Publish(topicSubject(t), payload)
}
