package exchange

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/loop"
)

// pushers runs a pusher for every push subscription in this process,
// following the subscriptions bucket: every replica runs them all, and
// the shared durable consumer hands each event to one of them.
type pushers struct {
	x       *Exchange
	mu      sync.Mutex
	running map[string]runningPusher
	wg      sync.WaitGroup
}

type runningPusher struct {
	rev  uint64
	stop context.CancelFunc
	done chan struct{}
}

// follow watches the bucket until ctx ends, then stops every pusher.
func (ps *pushers) follow(ctx context.Context) {
	defer ps.stopAll()
	for ctx.Err() == nil {
		w, err := ps.x.subs.WatchAll(ctx)
		if err != nil {
			loop.Sleep(ctx, 5*time.Second)
			continue
		}
		for e := range w.Updates() {
			if e != nil {
				ps.apply(ctx, e)
			}
		}
		_ = w.Stop()
	}
}

func (ps *pushers) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	name := e.Key()
	if !config.ValidName(name) { // reserved entries (the consumer key)
		return
	}
	var s Subscription
	live := e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &s) == nil && s.Push != nil
	if live && s.Retry.MaxAttempts == 0 {
		s.Retry, _ = parseRetry(nil)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if r, ok := ps.running[name]; ok {
		if live && r.rev == e.Revision() {
			return
		}
		r.stop()
		<-r.done
		delete(ps.running, name)
	}
	if !live {
		return
	}
	p, err := newPusher(ps.x, s)
	if err != nil {
		ps.x.log.Error("push subscription not started", "subscription", name, "error", err)
		return
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	ps.running[name] = runningPusher{rev: e.Revision(), stop: stop, done: done}
	ps.wg.Go(func() {
		defer close(done)
		p.run(pctx)
	})
}

func (ps *pushers) stopAll() {
	ps.mu.Lock()
	for name, r := range ps.running {
		r.stop()
		delete(ps.running, name)
	}
	ps.mu.Unlock()
	ps.wg.Wait()
}
