package live

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

var errOverloaded = errors.New("live: too many posts waiting; try again")

// Ingress limits: posts waiting in memory, posts per engine write, and
// writes in flight. While writes are in flight, posts gather into the
// next batch, so batches grow with the load. More writes in flight would
// only make the batches smaller.
const (
	ingressQueue    = 1 << 16
	ingressBatch    = 1024
	ingressInflight = 2
	// ingressLinger is how long a batch waits for company, and only when
	// its first post came within a linger of the previous batch: a post
	// into an idle pipeline is written at once, and under load each batch
	// carries the posts of a whole linger. Batches, not posts, cost the
	// moderation workers an engine write each (the accepted comments,
	// fsynced), so the engine's fsync rate bounds batches per second, not
	// comments.
	ingressLinger = time.Millisecond
)

type queued struct {
	p    post
	done func(error)
}

// ingress batches posts into the LIVE_POSTS work queue.
type ingress struct {
	js   jetstream.JetStream
	log  *slog.Logger
	in   chan queued
	sem  chan struct{}
	last time.Time // when run took the last post of the previous batch
}

func newIngress(js jetstream.JetStream, log *slog.Logger) *ingress {
	return &ingress{js: js, log: log, in: make(chan queued, ingressQueue), sem: make(chan struct{}, ingressInflight)}
}

// enqueue queues a post; false when the queue is full.
func (g *ingress) enqueue(p post, done func(error)) bool {
	select {
	case g.in <- queued{p, done}:
		return true
	default:
		return false
	}
}

// run writes batches until ctx ends; posts still queued then are failed,
// so their QoS 1 posters send them again elsewhere.
func (g *ingress) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			g.failQueued()
			return
		case q := <-g.in:
			batch := []queued{q}
			if time.Since(g.last) < ingressLinger {
				batch = g.linger(ctx, batch)
			}
			select {
			case g.sem <- struct{}{}:
			case <-ctx.Done():
				g.finish(batch, ctx.Err())
				g.failQueued()
				return
			}
			batch = g.gather(batch)
			g.last = time.Now()
			go g.write(ctx, batch)
		}
	}
}

// linger adds the posts that arrive within ingressLinger, up to a batch.
func (g *ingress) linger(ctx context.Context, batch []queued) []queued {
	t := time.NewTimer(ingressLinger)
	defer t.Stop()
	for len(batch) < ingressBatch {
		select {
		case q := <-g.in:
			batch = append(batch, q)
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// gather adds the posts already waiting, up to a batch.
func (g *ingress) gather(batch []queued) []queued {
	for len(batch) < ingressBatch {
		select {
		case q := <-g.in:
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

func (g *ingress) write(ctx context.Context, batch []queued) {
	defer func() { <-g.sem }()
	var buf []byte
	for _, q := range batch {
		raw, _ := json.Marshal(q.p)
		buf = append(append(buf, raw...), '\n')
	}
	m := nats.NewMsg(postsSubject)
	m.Data = buf
	m.Header.Set(jetstream.MsgIDHeader, nuid.Next())
	_, err := g.js.PublishMsg(context.WithoutCancel(ctx), m, jetstream.WithRetryAttempts(3))
	if err != nil {
		g.log.Warn("live posts not stored", "posts", len(batch), "err", err)
	}
	g.finish(batch, err)
}

func (g *ingress) finish(batch []queued, err error) {
	for _, q := range batch {
		if q.done != nil {
			q.done(err)
		}
	}
}

func (g *ingress) failQueued() {
	for {
		select {
		case q := <-g.in:
			g.finish([]queued{q}, context.Canceled)
		default:
			return
		}
	}
}
