package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/gate"
)

// TestClusterTicketKeyRotationOnTwoNodesAtOnce: two nodes of a three-node
// cluster rotate the ticket signing key at the same moment, several times,
// issuing a ticket after each rotation. No rotation overwrites another:
// every node ends with the same key set (every rotated key, none retired)
// and the same active key, and every ticket issued on either node verifies
// with a key of that set.
func TestClusterTicketKeyRotationOnTwoNodesAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of real processes")
	}
	base, err := os.ReadFile("testdata/gate/stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := startClusterRig(t, 3, filepath.Join(t.TempDir(), "cloud"), string(base)+"engine: {replicas: 3}\n",
		[]string{"testdata/gate/schemas/admissions.json"})
	const rounds = 4
	var (
		mu      sync.Mutex
		rotated []uint32
		codes   []string
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range 2 {
		p := c.nodes[i]
		wg.Go(func() {
			<-start
			for range rounds {
				var k gate.PublicKey
				if code := p.request("POST", "/v1/tickets/keys/rotate", p.admin, "", &k); code != 201 {
					t.Errorf("rotate on %s: HTTP %d", p.http, code)
					return
				}
				code := issueOne(t, p)
				mu.Lock()
				rotated, codes = append(rotated, k.ID), append(codes, code)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	type keySet struct {
		Keys   []gate.PublicKey `json:"keys"`
		Active uint32           `json:"active"`
	}
	var sets [3]keySet
	same := func() bool {
		for i := range sets {
			sets[i] = keySet{}
			if code := c.nodes[i].request("GET", "/v1/tickets/keys", c.nodes[i].admin, "", &sets[i]); code != 200 {
				t.Fatalf("keys on n%d: HTTP %d", i+1, code)
			}
			if len(sets[i].Keys) != 1+2*rounds {
				return false
			}
		}
		a, _ := json.Marshal(sets[0])
		for i := 1; i < len(sets); i++ {
			if b, _ := json.Marshal(sets[i]); string(b) != string(a) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for !same() {
		if time.Now().After(deadline) {
			t.Fatalf("the nodes do not agree on the keys after %d rotations on each of two nodes:\n%+v", rounds, sets)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pubs := map[uint32]gate.PublicKey{}
	var newest uint32
	for _, k := range sets[0].Keys {
		if k.Retired {
			t.Fatalf("key %d is retired; nobody retired it", k.ID)
		}
		pubs[k.ID], newest = k, max(newest, k.ID)
	}
	for _, id := range rotated {
		if _, ok := pubs[id]; !ok {
			t.Fatalf("rotated key %d is missing: overwritten by a concurrent rotation", id)
		}
	}
	if sets[0].Active != newest {
		t.Fatalf("active key %d, want the newest, %d", sets[0].Active, newest)
	}
	for _, code := range append(codes, issueOne(t, c.nodes[0]), issueOne(t, c.nodes[1]), issueOne(t, c.nodes[2])) {
		d, err := gate.DecodeCode(code)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := pubs[d.Ticket.KeyID]; !ok || !d.Verify(k.Public) {
			t.Fatalf("a ticket signed with key %d does not verify with the nodes' keys %v", d.Ticket.KeyID, slices.Sorted(func(yield func(uint32) bool) {
				for id := range pubs {
					if !yield(id) {
						return
					}
				}
			}))
		}
	}
	// Tickets issued now are signed with the one active key on every node.
	for i := range c.nodes {
		d, err := gate.DecodeCode(issueOne(t, c.nodes[i]))
		if err != nil || d.Ticket.KeyID != newest {
			t.Fatalf("n%d signs with key %v (%v), want the active %d", i+1, d, err, newest)
		}
	}
}

// issueOne issues one ticket for bird-nest on p and returns its code.
func issueOne(t *testing.T, p *proc) string {
	t.Helper()
	now := time.Now().UTC()
	body, _ := json.Marshal(gate.TicketRequest{Venue: "bird-nest", Session: "CER-OPENING",
		ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(6 * time.Hour), Seat: fmt.Sprint(now.UnixNano())})
	var out gate.Issued
	if code := p.request("POST", "/v1/tickets", p.admin, string(body), &out); code != 201 {
		t.Errorf("issue on %s: HTTP %d", p.http, code)
	}
	return out.Code
}
