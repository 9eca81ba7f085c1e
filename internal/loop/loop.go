// Package loop holds the loops every service writes: sleep with a context,
// a periodic tick, and following a KV bucket. It sits below every stadion
// package (it imports only the NATS client), so capabilities, the API
// plumbing, the server, the commands and the benchmarks share one copy.
package loop

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Sleep waits d or until ctx ends; it reports whether the whole d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// SleepUntil waits until t or until ctx ends; it reports whether t came.
func SleepUntil(ctx context.Context, t time.Time) bool {
	return Sleep(ctx, time.Until(t))
}

// Every calls f every d until ctx ends. The first call is d after the start.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// Follow applies a bucket watch's current values before it returns, then
// keeps applying changes in the background until the watch stops (its
// context ends or Stop is called). initial says whether an entry was among
// the current values. The returned channel closes when the background
// goroutine has ended. If ctx ends before the current values are in, Follow
// stops the watch and returns ctx's error.
func Follow(ctx context.Context, w jetstream.KeyWatcher, apply func(e jetstream.KeyValueEntry, initial bool)) (<-chan struct{}, error) {
	for loaded := false; !loaded; {
		select {
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				loaded = true // the watch stopped before the initial values were in
			case e == nil: // the current values are in
				loaded = true
			default:
				apply(e, true)
			}
		case <-ctx.Done():
			_ = w.Stop()
			return nil, ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e != nil {
				apply(e, false)
			}
		}
	}()
	return done, nil
}
