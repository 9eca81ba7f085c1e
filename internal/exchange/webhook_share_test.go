package exchange

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/engine"
)

// An unordered push subscription's max_in_flight is for the whole
// deployment: two exchanges on one engine, counted by the engine's
// presence bucket, never hold more calls open at the receiver than
// max_in_flight together, and deliver every event.
func TestWebhookMaxInFlightIsSharedByReplicas(t *testing.T) {
	h := newHarnessWith(t, webhookConfig)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	join := func(id string) *engine.Presence {
		p, err := engine.JoinPresence(t.Context(), h.eng.JS, id, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Leave(context.Background()) })
		return p
	}
	pa := join("process-a")
	h.x.CountProcesses(pa)
	h.replica(func(x2 *Exchange) { x2.CountProcesses(join("process-b")) })
	eventually(t, 20*time.Second, "both processes counted", func() bool { return pa.Count() == 2 })

	var (
		mu             sync.Mutex
		open, maxOpen  int
		delivered      = map[string]bool{}
		release        = make(chan struct{})
		releaseOnce    sync.Once
		releaseReached = func() { releaseOnce.Do(func() { close(release) }) }
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		open++
		maxOpen = max(maxOpen, open)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		open--
		delivered[r.Header.Get("Webhook-Id")] = true
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	t.Cleanup(releaseReached) // before rc.Close: no call is left open

	pub, sub := h.key("pub"), h.key("sub")
	h.mustPutSub(sub, "hook", pushBody(rc.URL+"/in", `,"max_in_flight":4`))
	const n = 12
	for i := range n {
		h.mustPublish(pub, "laps", fmt.Sprintf(`{"athlete":"SHA-%d","n":1,"ms":2}`, i))
	}
	eventually(t, 20*time.Second, "the receiver holding max_in_flight calls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return open >= 4
	})
	releaseReached()
	eventually(t, 30*time.Second, "every event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == n
	})
	mu.Lock()
	defer mu.Unlock()
	if maxOpen > 4 {
		t.Errorf("the receiver had %d calls open at once across two processes, want at most max_in_flight 4", maxOpen)
	}
}
