package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PresenceBucket holds one key per running stadion process sharing the
// engine, each kept alive by its process and expiring soon after it stops.
const PresenceBucket = "stadion-processes"

// presenceEvery is how often a process renews its key and recounts; a
// key expires after three missed renewals.
const presenceEvery = 5 * time.Second

// Presence counts the stadion processes that share the engine, so that a
// limit meant for the whole deployment (a sink's max_rate, a webhook's
// max_in_flight) can be divided among them. Count is safe from any
// goroutine; a process that died drops out of the count within three
// renewals (15 s).
type Presence struct {
	kv    jetstream.KeyValue
	id    string
	every time.Duration
	log   *slog.Logger
	n     atomic.Int64

	mu      sync.Mutex
	watches []func(n int)

	cancel context.CancelFunc
	done   chan struct{}
}

// JoinPresence registers this process (id must be unique to it) and keeps
// it registered until Leave.
func JoinPresence(ctx context.Context, js jetstream.JetStream, id string, log *slog.Logger) (*Presence, error) {
	return joinPresence(ctx, js, id, presenceEvery, log)
}

func joinPresence(ctx context.Context, js jetstream.JetStream, id string, every time.Duration, log *slog.Logger) (*Presence, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: PresenceBucket, Description: "running stadion processes (one key each, renewed every few seconds)",
		History: 1, TTL: 3 * every, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: presence bucket: %w", err)
	}
	p := &Presence{kv: kv, id: id, every: every, log: log, done: make(chan struct{})}
	p.n.Store(1)
	if err := p.renew(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	go p.run(runCtx)
	return p, nil
}

// Count is the number of live processes, this one included (at least 1).
func (p *Presence) Count() int { return int(p.n.Load()) }

// OnChange calls f with the new count whenever it changes (from the
// presence goroutine; f must not block).
func (p *Presence) OnChange(f func(n int)) {
	p.mu.Lock()
	p.watches = append(p.watches, f)
	p.mu.Unlock()
}

func (p *Presence) run(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.renew(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("presence: cannot renew or count; keeping the last count", "count", p.Count(), "err", err)
			}
		}
	}
}

// renew puts this process's key and recounts the keys.
func (p *Presence) renew(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, p.every)
	defer cancel()
	if _, err := p.kv.Put(rctx, p.id, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("engine: presence: %w", err)
	}
	keys, err := p.kv.ListKeys(rctx)
	if err != nil {
		return fmt.Errorf("engine: presence: %w", err)
	}
	n := 0
	for range keys.Keys() { // closed when all are read (or on an error)
		n++
	}
	n = max(n, 1) // this process's key was just put
	if old := p.n.Swap(int64(n)); old != int64(n) {
		p.mu.Lock()
		watches := append([]func(int){}, p.watches...)
		p.mu.Unlock()
		for _, f := range watches {
			f(n)
		}
	}
	return nil
}

// Leave stops renewing and removes this process's key, so the others
// count it out at their next renewal. Removing the key only hastens what
// its TTL does anyway, so an engine that cannot take the delete (a node
// without quorum, a drain deadline passed) is logged, not an error: the
// others count this process out within three renewals, and a stop that
// went as asked exits 0.
func (p *Presence) Leave(ctx context.Context) error {
	p.cancel()
	<-p.done
	if err := p.kv.Delete(ctx, p.id); err != nil {
		p.log.Warn("presence: cannot remove this process's key; it expires on its own", "expires_in", 3*p.every, "err", err)
	}
	return nil
}
