package gate

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestTwoWritersAdmitOnce runs two ledgers over one scan log, as two edge
// processes of one venue sharing its JetStream domain would: concurrent
// scans of the same tickets through both admit each ticket exactly once,
// the loser of each compare-and-set replaying the winner's entry.
func TestTwoWritersAdmitOnce(t *testing.T) {
	c := startCloud(t)
	e := startEdge(t, "bird-nest", tempDir(t, "edge"), c.eng.LeafURL(), c.credentials(t, "bird-nest"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := newLedger(e.edge.js, e.edge.ctl, testLogger(t))
	if err := second.replay(ctx); err != nil {
		t.Fatal(err)
	}
	go second.run(ctx)

	const n = 200
	var mu sync.Mutex
	admitted := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		id := newTicketID()
		for _, l := range []*ledger{e.edge.led, second} {
			wg.Go(func() {
				p := &pending{scan: Scan{ID: newTicketID(), Venue: "bird-nest", Gate: "north-1", Direction: "in",
					At: time.Now(), Ticket: &Ticket{ID: id}}}
				if err := l.submit(ctx, p); err != nil {
					t.Error(err)
					return
				}
				if p.scan.Decision == Accept {
					mu.Lock()
					admitted[id]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(admitted) != n {
		t.Fatalf("%d tickets admitted, want %d", len(admitted), n)
	}
	for id, k := range admitted {
		if k != 1 {
			t.Errorf("ticket %s admitted %d times", id, k)
		}
	}
}

// TestEntryRules: re-entry after exit where the venue allows it, never
// where it does not; an exit needs an entry.
func TestEntryRules(t *testing.T) {
	c := startCloud(t)
	bn := startEdge(t, "bird-nest", tempDir(t, "bn"), c.eng.LeafURL(), c.credentials(t, "bird-nest"))
	ic := startEdge(t, "ice-cube", tempDir(t, "ic"), c.eng.LeafURL(), c.credentials(t, "ice-cube"))
	for _, e := range []*edgeRig{bn, ic} {
		eventually(t, "keys and configuration at "+e.edge.venue, 15*time.Second, func() bool {
			return len(e.edge.ctl.summary().Keys) > 0 && e.edge.ctl.config().Version > 0
		})
	}
	steps := []struct {
		edge      *edgeRig
		gate, dir string
		want, why string
	}{
		{bn, "north-1", "out", Reject, ReasonNoEntry},
		{bn, "north-1", "in", Accept, ""},
		{bn, "north-1", "out", Accept, ""},
		{bn, "north-2", "in", Reject, ReasonAdmitted},
		{bn, "west-9", "in", Reject, ReasonUnknownGate},
		{ic, "east-1", "in", Accept, ""},
		{ic, "east-1", "in", Reject, ReasonAdmitted},
		{ic, "east-1", "out", Accept, ""},
		{ic, "east-1", "in", Accept, ""},
	}
	tickets := map[*edgeRig]Issued{
		bn: issueOne(t, c, c.admin, session("bird-nest")),
		ic: issueOne(t, c, c.admin, session("ice-cube")),
	}
	for i, s := range steps {
		r := scan(t, s.edge, s.edge.admin, tickets[s.edge].Code, s.gate, s.dir)
		if r.Decision != s.want || r.Reason != s.why {
			t.Errorf("step %d (%s %s at %s): %s %q, want %s %q", i, s.dir, s.edge.edge.venue, s.gate, r.Decision, r.Reason, s.want, s.why)
		}
	}
}
