package gate

import (
	"context"
	"sync"
	"testing"

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
