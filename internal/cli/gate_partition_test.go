package cli

import (
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/gate"
)

// TestGatePartition runs a cloud and a venue edge as real processes with a
// TCP proxy on the leafnode link, cuts the link and keeps scanning: with
// duplicates at two gates, forged and modified codes, another venue's
// tickets and a ticket revoked before the cut; the edge is killed and
// restarted during the cut and one more ticket is revoked in the cloud.
// After healing, the cloud has every scan exactly once, no ticket got in
// twice, and the mid-cut revocation applies.
func TestGatePartition(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	start := time.Now()
	phase := func(name string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), name) }
	dir := t.TempDir()
	cloud := startGateCloud(t, dir+"/cloud")
	proxy, err := rig.NewLinkProxy(cloud.leaf)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	creds := cloud.credsFile(t, "bird-nest", dir)
	edge := startEdgeProc(t, dir+"/edge", "bird-nest", proxy.URL(), creds)

	tickets := cloud.issue(t, "bird-nest", n)
	foreign := cloud.issue(t, "ice-cube", 5)
	revokedBefore, revokedDuring := tickets[0], tickets[n-1]
	revoke(t, cloud, revokedBefore.ID)
	waitFor(t, "the edge to hold the key and the first revocation", func() bool {
		s := edgeStatus(t, edge)
		return len(s.Control.Keys) > 0 && s.Control.Revoked == 1
	})

	phase("issued and synced")
	proxy.Cut()
	waitFor(t, "the edge to see the link down", func() bool { return edgeStatus(t, edge).Link == "down" })
	key := deviceKey(t, edge, "north-1-a")

	tally := newTally()
	half := n / 2
	scanPairs(t, newScanner(edge, key), tickets[1:half], tally)

	phase("first half scanned")
	edge.kill9() // a host restart while the link is down
	edge = startEdgeProc(t, dir+"/edge", "bird-nest", proxy.URL(), creds)
	sc := newScanner(edge, key)
	revoke(t, cloud, revokedDuring.ID) // reaches the edge only after healing
	scanPairs(t, sc, tickets[half:n-1], tally)

	expect(t, sc, tally, revokedBefore.Code, "north-1", gate.ReasonRevoked)
	expect(t, sc, tally, tickets[1].Code, "south-1", gate.ReasonAdmitted) // admitted before the restart
	for _, f := range foreign {
		expect(t, sc, tally, f.Code, "north-1", gate.ReasonWrongVenue)
	}
	for _, bad := range badCodes(tickets[2].Code) {
		expect(t, sc, tally, bad, "north-2", "")
	}

	phase("second half scanned")
	proxy.Heal()
	waitFor(t, "the mid-cut revocation at the edge", func() bool { return edgeStatus(t, edge).Control.Revoked == 2 })
	expect(t, sc, tally, revokedDuring.Code, "north-1", gate.ReasonRevoked)

	phase("revocation applied after healing")
	if want := n - 2; tally.accepted() != want {
		t.Errorf("accepted %d scans, want %d (every valid ticket exactly once)", tally.accepted(), want)
	}
	waitFor(t, "every scan in the cloud", func() bool {
		v := cloud.venue(t, "bird-nest")
		return v.Scans == uint64(tally.total()) && v.Backlog == 0
	})
	phase("every scan in the cloud view")
	v := cloud.venue(t, "bird-nest")
	if v.Admitted != uint64(tally.accepted()) || v.Rejected != uint64(tally.total()-tally.accepted()) {
		t.Errorf("cloud view %+v, edge decided %d accepted of %d", v, tally.accepted(), tally.total())
	}
	checkAdmissionsOnce(t, cloud, tally)
	phase("admissions checked")
}

// tally counts decisions per ticket and remembers accepted scan ids.
type tally struct {
	mu      sync.Mutex
	perCode map[string]int
	scanIDs map[string]string // accepted scan id -> ticket id
	all     int
}

func newTally() *tally { return &tally{perCode: map[string]int{}, scanIDs: map[string]string{}} }

func (t *tally) add(code string, r gate.ScanResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.all++
	if r.Decision == gate.Accept {
		t.perCode[code]++
		t.scanIDs[r.ScanID] = r.Ticket.ID
	}
}

func (t *tally) accepted() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.scanIDs)
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.all
}

// scanPairs scans every ticket at two gates at once, 16 scans in flight:
// exactly one of each pair may get in.
func scanPairs(t *testing.T, sc *scanner, tickets []gate.Issued, tl *tally) {
	t.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		g := []string{"north-1", "north-2"}[w%2]
		wg.Go(func() {
			for code := range work {
				r, err := sc.scan(code, g, "in")
				if err != nil {
					errs <- err
					return
				}
				tl.add(code, r)
			}
		})
	}
	for _, tk := range tickets {
		work <- tk.Code
		work <- tk.Code
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, tk := range tickets {
		if c := tl.perCode[tk.Code]; c != 1 {
			t.Fatalf("ticket %s admitted %d times at two gates, want exactly 1", tk.ID, c)
		}
	}
}

// expect scans once and checks the rejection reason ("" accepts any
// rejection).
func expect(t *testing.T, sc *scanner, tl *tally, code, g, reason string) {
	t.Helper()
	r, err := sc.scan(code, g, "in")
	if err != nil {
		t.Fatal(err)
	}
	tl.add(code, r)
	if r.Decision != gate.Reject || (reason != "" && r.Reason != reason) || r.Reason == "" {
		t.Fatalf("scan of %.24s...: %+v, want reject (%s)", code, r, reason)
	}
}

// badCodes are forged, modified, truncated and random codes made from a
// valid one.
func badCodes(valid string) []string {
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return []string{
		flip(len(raw) - 1), // forged signature
		flip(20),           // modified validity
		flip(40),           // modified field
		valid[:len(valid)/2],
		"not a code",
		base64.RawURLEncoding.EncodeToString(make([]byte, 150)),
		fmt.Sprintf("%0400d", 7),
	}
}

func revoke(t *testing.T, c *gateCloud, id string) {
	t.Helper()
	if code := c.request("POST", "/v1/tickets/"+id+"/revoke", c.admin, "", nil); code != 200 {
		t.Fatalf("revoke %s: %d", id, code)
	}
}

func deviceKey(t *testing.T, edge *proc, device string) string {
	t.Helper()
	var out struct{ Key string }
	if code := edge.request("POST", "/v1/devices/"+device+"/keys", edge.admin, "", &out); code != 201 {
		t.Fatalf("device key: %d", code)
	}
	return out.Key
}

// checkAdmissionsOnce reads the admissions topic: every accepted scan is
// there exactly once.
func checkAdmissionsOnce(t *testing.T, c *gateCloud, tl *tally) {
	t.Helper()
	waitFor(t, "every admission in the topic", func() bool {
		return len(c.readAll("admissions", c.admin)) >= tl.accepted()
	})
	seen := map[string]bool{}
	for _, ev := range c.readAll("admissions", c.admin) {
		data, _ := ev["data"].(map[string]any)
		id, _ := data["scan_id"].(string)
		if seen[id] {
			t.Errorf("admission %s published twice", id)
		}
		seen[id] = true
		if _, ok := tl.scanIDs[id]; !ok {
			t.Errorf("admission %s was not accepted at the edge", id)
		}
	}
	if len(seen) != tl.accepted() {
		t.Errorf("admissions topic has %d scans, the edge accepted %d", len(seen), tl.accepted())
	}
}
