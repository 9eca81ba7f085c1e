package gate

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/engine"
)

// TestSignerNodesStartingAtOnceAgreeOnOneKey: clustered nodes that start
// at once each open the signing keys on the same engine; they must agree on
// one active key instead of each making its own (a ticket signed by one
// would otherwise verify at edges only after the other's key synced).
func TestSignerNodesStartingAtOnceAgreeOnOneKey(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.Start(ctx, engine.Options{
		DataDir: t.TempDir(), SyncAlways: true, Domain: CloudDomain,
		MaxMemory: 64 << 20, MaxDisk: 1 << 30, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "engine", eng.Stop)
	const nodes = 6
	signers := make([]*signer, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			signers[i], errs[i] = openSigner(ctx, eng.JS)
		})
	}
	close(start)
	wg.Wait()
	var want signingKey
	for i, s := range signers {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		k, ok := s.active()
		if !ok {
			t.Fatalf("node %d has no active key", i)
		}
		if i == 0 {
			want = k
		} else if k.ID != want.ID || !k.Private.Equal(want.Private) {
			t.Fatalf("node %d signs with key %d, node 0 with %d", i, k.ID, want.ID)
		}
	}
	// One key in the bucket; a later node and a retire of a rotated-out
	// first key keep it that way.
	again, err := openSigner(ctx, eng.JS)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.publics(); len(got) != 1 || got[0].ID != want.ID {
		t.Fatalf("keys after the nodes started: %+v, want only %d", got, want.ID)
	}
	if _, err := again.rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := again.retire(ctx, want.ID); err != nil {
		t.Fatal(err)
	}
	reread, err := openSigner(ctx, eng.JS)
	if err != nil {
		t.Fatal(err)
	}
	pubs := reread.publics()
	if len(pubs) != 2 || pubs[0].ID != want.ID || !pubs[0].Retired || pubs[1].Retired {
		t.Fatalf("keys after rotate and retire of the first: %+v", pubs)
	}
}

// TestSignerConcurrentRotationsAgree: two nodes rotate at once, several
// times each. No key overwrites another, and both end with the same key
// set and the same active key (each follows the bucket).
func TestSignerConcurrentRotationsAgree(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.Start(ctx, engine.Options{
		DataDir: t.TempDir(), SyncAlways: true, Domain: CloudDomain,
		MaxMemory: 64 << 20, MaxDisk: 1 << 30, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "engine", eng.Stop)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var nodes [2]*signer
	for i := range nodes {
		if nodes[i], err = openSigner(wctx, eng.JS); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 5
	var wg sync.WaitGroup
	start := make(chan struct{})
	made := make(chan uint32, 2*rounds)
	for _, s := range nodes {
		wg.Go(func() {
			<-start
			for range rounds {
				k, err := s.rotate(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				made <- k.ID
			}
		})
	}
	close(start)
	wg.Wait()
	close(made)
	if t.Failed() {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, b := nodes[0].publics(), nodes[1].publics()
		ka, _ := nodes[0].active()
		kb, _ := nodes[1].active()
		if len(a) == 1+2*rounds && slices.EqualFunc(a, b, func(x, y PublicKey) bool { return x.ID == y.ID && x.Retired == y.Retired }) && ka.ID == kb.ID {
			ids := map[uint32]bool{}
			for _, k := range a {
				ids[k.ID] = true
			}
			for id := range made {
				if !ids[id] {
					t.Fatalf("rotated key %d is missing", id)
				}
			}
			if ka.ID != a[len(a)-1].ID {
				t.Fatalf("active %d, want the newest %d", ka.ID, a[len(a)-1].ID)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes disagree: %d and %d keys, active %d and %d", len(a), len(b), ka.ID, kb.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSignerConcurrentRetiresKeepAKey: two nodes retire the two older of
// three keys at once; both retirements hold, the newest key still signs on
// both, and it cannot itself be retired (rotate first).
func TestSignerConcurrentRetiresKeepAKey(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.Start(ctx, engine.Options{
		DataDir: t.TempDir(), SyncAlways: true, Domain: CloudDomain,
		MaxMemory: 64 << 20, MaxDisk: 1 << 30, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "engine", eng.Stop)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := openSigner(wctx, eng.JS)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openSigner(wctx, eng.JS)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.active()
	second, err := a.rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newest, err := b.rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { _, errs[0] = a.retire(ctx, first.ID) })
	wg.Go(func() { _, errs[1] = b.retire(ctx, second.ID) })
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("retires: %v, %v", errs[0], errs[1])
	}
	for _, s := range []*signer{a, b} {
		if _, err := s.retire(ctx, newest.ID); err == nil {
			t.Fatal("the active key was retired")
		}
		if k, ok := s.active(); !ok || k.ID != newest.ID {
			t.Fatalf("active %d (%v), want %d", k.ID, ok, newest.ID)
		}
	}
}
