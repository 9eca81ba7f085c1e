package engine

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// Processes sharing an engine count each other; one that leaves, or stops
// renewing (a kill -9), drops out of the others' count.
func TestPresenceCountsProcesses(t *testing.T) {
	e, _ := startEngine(t, Options{})
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const every = 200 * time.Millisecond
	join := func(id string) *Presence {
		p, err := joinPresence(ctx, e.JS, id, every, log)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := join("a"), join("b"), join("c")
	t.Cleanup(func() { _ = a.Leave(ctx) })
	changed := make(chan int, 16)
	a.OnChange(func(n int) { changed <- n })
	waitCount(t, "three processes", 3, a, b, c)

	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "b left", 2, a, c)

	c.cancel() // c dies without leaving: its key expires
	<-c.done
	waitCount(t, "c's key expired", 1, a)
	for timeout := time.After(20 * time.Second); ; { // OnChange reports each change, ending with 1
		select {
		case n := <-changed:
			if n == 1 {
				return
			}
		case <-timeout:
			t.Fatal("OnChange never reported 1")
		}
	}
}

// A process whose engine cannot take the delete when it leaves (a node
// without quorum at shutdown; here the drain deadline has passed) still
// leaves without an error, and its key expires: the others count it out.
func TestPresenceLeaveWithoutEngineIsNotAnError(t *testing.T) {
	e, _ := startEngine(t, Options{})
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const every = 200 * time.Millisecond
	a, err := joinPresence(ctx, e.JS, "a", every, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Leave(ctx) })
	b, err := joinPresence(ctx, e.JS, "b", every, log)
	if err != nil {
		t.Fatal(err)
	}
	waitCount(t, "two processes", 2, a, b)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Leave(gone); err != nil {
		t.Fatalf("Leave with an engine that cannot answer: %v, want nil", err)
	}
	waitCount(t, "b's key expired", 1, a)
}

func waitCount(t *testing.T, what string, want int, ps ...*Presence) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range ps {
		for p.Count() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s counts %d, want %d", what, p.id, p.Count(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
