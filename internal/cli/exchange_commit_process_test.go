package cli

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestKill9KeepsAcknowledgedBatches: concurrent clients publish batches,
// which the server stores through the group commit as engine atomic
// batches (durability always), alongside single events. The server is
// killed with SIGKILL right after the last acknowledgement and restarted:
// every acknowledged event is at the seq its receipt gave, with its id,
// and nothing is stored twice.
func TestKill9KeepsAcknowledgedBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	data := t.TempDir()
	p := startUp(t, data)
	timing, screens := p.createKey("timing"), p.createKey("screens")

	type receipt struct {
		ID  string  `json:"id"`
		Seq float64 `json:"seq"`
	}
	const workers, rounds, size = 8, 5, 20
	var mu sync.Mutex
	acked := map[float64]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				var docs []string
				for i := range size {
					n := (w*rounds+r)*size + i
					docs = append(docs, fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":%d}`, w, n, 60000+i))
				}
				var rs []receipt
				if code := p.request("POST", "/v1/topics/laps/events", timing, "["+strings.Join(docs, ",")+"]", &rs); code != 202 || len(rs) != size {
					t.Errorf("batch: %d, %d receipts", code, len(rs))
					return
				}
				var one receipt
				single := fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":1}`, w, 100000+w*rounds+r)
				if code := p.request("POST", "/v1/topics/laps/events", timing, single, &one); code != 202 {
					t.Errorf("single: %d", code)
					return
				}
				mu.Lock()
				for _, rc := range append(rs, one) {
					if prev, dup := acked[rc.Seq]; dup {
						t.Errorf("seq %v acknowledged for %s and %s", rc.Seq, prev, rc.ID)
					}
					acked[rc.Seq] = rc.ID
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	p2 := startUp(t, data)
	events := p2.readAll("laps", screens)
	want := workers * rounds * (size + 1)
	if len(events) != want || len(acked) != want {
		t.Fatalf("after kill -9: %d events stored, %d acknowledged, want %d", len(events), len(acked), want)
	}
	seen := map[float64]bool{}
	for _, ev := range events {
		seq, id := ev["seq"].(float64), ev["id"].(string)
		if acked[seq] != id {
			t.Fatalf("seq %v holds event %s, acknowledged as %s", seq, id, acked[seq])
		}
		n := ev["data"].(map[string]any)["n"].(float64)
		if seen[n] {
			t.Fatalf("event n=%v stored twice", n)
		}
		seen[n] = true
	}
}
