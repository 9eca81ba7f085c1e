package live

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// follow applies a bucket watch's current values before it returns, then
// keeps applying changes in the background until the watch stops.
func follow(w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) {
	for e := range w.Updates() { // current values, then nil, then changes
		if e == nil {
			break
		}
		apply(e)
	}
	go func() {
		for e := range w.Updates() {
			if e != nil {
				apply(e)
			}
		}
	}()
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
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
