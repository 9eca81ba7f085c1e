package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestConcurrentPublishers runs 1,000 publishers at once, each a goroutine
// with one request (at most 64 in flight), good and bad mixed, and checks that every bad
// one gets its status, every good event is stored exactly once and the
// server still works afterwards.
func TestConcurrentPublishers(t *testing.T) {
	h := newHarness(t)
	pub, sub, other := h.key("pub"), h.key("sub"), h.key("other")

	const total, parallel = 1000, 64
	type request struct {
		key, topic, body string
		status           int
		good             string // the unique id of a good event
	}
	reqs := make([]request, total)
	goodCount := 0
	for i := range reqs {
		switch i % 8 {
		case 0, 1, 2:
			id := fmt.Sprintf("good-%04d", i)
			reqs[i] = request{pub, "notes", fmt.Sprintf(`{"uid":%q}`, id), http.StatusAccepted, id}
			goodCount++
		case 3:
			id := fmt.Sprintf("good-%04d", i)
			reqs[i] = request{other, "notes", fmt.Sprintf(`{"uid":%q,"n":%d}`, id, i), http.StatusAccepted, id}
			goodCount++
		case 4:
			reqs[i] = request{key: pub, topic: "notes", body: `{"uid":"malformed`, status: http.StatusBadRequest}
		case 5:
			reqs[i] = request{key: pub, topic: "laps", body: `{"athlete":"bad","n":-1}`, status: http.StatusBadRequest}
		case 6:
			reqs[i] = request{key: sub, topic: "notes", body: `{"uid":"forbidden"}`, status: http.StatusForbidden}
		case 7:
			reqs[i] = request{key: pub, topic: "nope", body: `{"uid":"unknown topic"}`, status: http.StatusNotFound}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	slots := make(chan struct{}, parallel) // bounds open connections
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for i, rq := range reqs {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			r, err := h.try(ctx, "POST", "/v1/topics/"+rq.topic+"/events", rq.key, []byte(rq.body), "Content-Type", ctJSON)
			msg := ""
			switch {
			case err != nil:
				msg = err.Error()
			case r.status != rq.status:
				msg = fmt.Sprintf("status %d, want %d: %s", r.status, rq.status, r.body)
			case r.status != http.StatusAccepted && r.header.Get("Content-Type") != "application/problem+json":
				msg = "error without problem+json"
			}
			if msg != "" {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("request %d: %s", i, msg))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}

	// Every good event is there exactly once.
	counts := map[string]int{}
	for _, ev := range h.readAll(other, "notes") {
		var data struct{ UID string }
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("event %d: %v", ev.Seq, err)
		}
		counts[data.UID]++
	}
	for _, rq := range reqs {
		if rq.good != "" && counts[rq.good] != 1 {
			t.Errorf("event %s stored %d times", rq.good, counts[rq.good])
		}
	}
	if len(counts) != goodCount {
		t.Errorf("%d distinct events stored, want %d", len(counts), goodCount)
	}
	if n := h.stored("laps"); n != 0 {
		t.Errorf("laps holds %d events after only invalid ones", n)
	}

	// Still healthy: a following publish and read work.
	rc := h.mustPublish(pub, "laps", goodLap)
	if p := h.read(sub, "laps", ""); len(p.events) != 1 || p.events[0].ID != rc.ID {
		t.Errorf("after the storm: %+v", p.events)
	}
	if r := h.do("GET", "/readyz", "", nil); r.status != http.StatusOK {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
}
