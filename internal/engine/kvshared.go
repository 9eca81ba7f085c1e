package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sharedReadWait bounds how long SharedValue waits for a value another
// process created to become readable here.
const sharedReadWait = 15 * time.Second

// SharedValue returns the value of key in kv, creating it with fresh if it
// does not exist: the first process to create it wins and every other one
// reads the winner's value. On a replicated bucket a read may be served by
// a copy that has not applied the winner's write yet (KV reads are direct
// gets), so a "not found" right after "already exists" is retried, bounded
// by sharedReadWait.
func SharedValue(ctx context.Context, kv jetstream.KeyValue, key string, fresh []byte) ([]byte, error) {
	if _, err := kv.Create(ctx, key, fresh); err == nil {
		return fresh, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, err
	}
	deadline := time.Now().Add(sharedReadWait)
	for {
		e, err := kv.Get(ctx, key)
		if err == nil {
			return e.Value(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) || time.Now().After(deadline) {
			return nil, fmt.Errorf("reading %s, which another process created: %w", key, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
