package loop

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

func TestSleep(t *testing.T) {
	if !Sleep(t.Context(), time.Millisecond) {
		t.Error("Sleep of 1ms with a live context reported false")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep with an ended context reported true")
	}
	if SleepUntil(ctx, time.Now().Add(-time.Second)) {
		t.Error("SleepUntil a past time with an ended context reported true")
	}
	if !SleepUntil(t.Context(), time.Now().Add(-time.Second)) {
		t.Error("SleepUntil a past time reported false")
	}
}

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	Every(ctx, time.Millisecond, func() {
		if n++; n == 3 {
			cancel()
		}
	})
	if n != 3 {
		t.Fatalf("f ran %d times, want 3 (Every returns once ctx ends)", n)
	}
}

func kv(t *testing.T) jetstream.KeyValue {
	t.Helper()
	_, js := enginetest.Connect(t, enginetest.Server(t, enginetest.Sync(false)).ClientURL())
	b, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "follow"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Follow has applied every current value when it returns, then applies
// changes (deletes included) until the watch stops.
func TestFollow(t *testing.T) {
	b := kv(t)
	ctx := t.Context()
	for _, k := range []string{"a", "b"} {
		if _, err := b.Put(ctx, k, []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	w, err := b.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]string{}
	initial := 0
	done, err := Follow(ctx, w, func(e jetstream.KeyValueEntry, init bool) {
		mu.Lock()
		defer mu.Unlock()
		if init {
			initial++
		}
		if e.Operation() == jetstream.KeyValuePut {
			seen[e.Key()] = string(e.Value())
		} else {
			delete(seen, e.Key())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if initial != 2 || seen["a"] != "1" || seen["b"] != "1" {
		t.Fatalf("after Follow: %d initial, %v; want a and b", initial, seen)
	}
	mu.Unlock()
	if _, err := b.Put(ctx, "a", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		ok := seen["a"] == "2" && len(seen) == 1
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes not applied: %v", seen)
		}
		Sleep(ctx, 10*time.Millisecond)
	}
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the background goroutine did not end after Stop")
	}
}
