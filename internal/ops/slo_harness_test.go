package ops

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// sloTestEngine runs a real embedded engine on a free port with its store
// in a temporary directory.
func sloTestEngine(t *testing.T) *engine.Engine {
	t.Helper()
	return enginetest.Start(t, enginetest.Sync(false), enginetest.Logger(sloQuietLog()))
}

func sloQuietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sloWaitFor polls cond until it holds or the deadline passes.
func sloWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alertRecorder is an Alerter that records what it is told, in order.
type alertRecorder struct {
	mu     sync.Mutex
	events []string // "fire <id>" / "resolve <id>"
	last   map[string]Alert
}

func (r *alertRecorder) Fire(a Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]Alert{}
	}
	r.events = append(r.events, "fire "+a.ID)
	r.last[a.ID] = a
}

func (r *alertRecorder) Resolve(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "resolve "+id)
}

func (r *alertRecorder) firing() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	on := map[string]bool{}
	for _, e := range r.events {
		if id, ok := cutPrefix(e, "fire "); ok {
			on[id] = true
		} else if id, ok := cutPrefix(e, "resolve "); ok {
			delete(on, id)
		}
	}
	return on
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

func sloBytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
