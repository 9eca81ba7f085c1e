package delivery

import (
	"testing"
)

func TestPauseIsSharedByReplicas(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	dir := t.TempDir()
	cfg := testConfig(t, "", arrivalsSink)
	_, jsA := r.connect(t)
	_, jsB := r.connect(t)
	a := startService(t, cfg, jsA, dir, 0)
	b := startService(t, cfg, jsB, dir, 0)

	if err := a.SetPaused(t.Context(), "arrivals-db", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica B to see the pause", func() bool {
		st, _ := b.Status(t.Context(), "arrivals-db")
		return st.State == "paused"
	})
	// A fetch already waiting when the pause came may still take events;
	// publish after both replicas are paused and their fetches are over.
	waitFor(t, "no fetch in flight", func() bool {
		info, err := a.sinks["arrivals-db"].cons.Info(t.Context())
		return err == nil && info.NumWaiting == 0
	})
	want := publishUpdates(t, r, 30, 2)
	waitFor(t, "the engine to count the lag", func() bool {
		st, _ := a.Status(t.Context(), "arrivals-db")
		return st.Lag == 60
	})
	db := sqliteSinkDB(t, dir)
	if got := tableStatuses(t, db, a); len(got) != 0 {
		t.Fatalf("paused sinks wrote %d rows", len(got))
	}

	if err := b.SetPaused(t.Context(), "arrivals-db", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drain after resume", func() bool { return sameRows(tableStatuses(t, db, a), want) })
	if st, _ := a.Status(t.Context(), "arrivals-db"); st.State != "running" {
		t.Fatalf("A after resume on B: %s", st.State)
	}
}
