// Package deadlettertest is the conformance suite every owner of dead
// letters passes through its own code path (a subscription: events nacked
// at their last attempt, redriven through its redrive stream; a sink: rows
// the database rejects, redriven into the table), the way Watermill's
// tests.TestPubSub runs against every Pub/Sub. The store's own suite
// (package deadletter) checks the store for both kinds; this one checks
// that each owner keeps the same promises end to end.
//
// It is imported by tests only.
package deadlettertest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// Letter is what the suite reads of a dead letter.
type Letter struct {
	ID  uint64 // its id in the store
	Seq uint64 // the event's sequence in its topic
}

// Owner is one kind's owner of dead letters, driven through its real
// code path. Each method fails t itself on an error.
type Owner interface {
	// Fail publishes n events the owner gives up and returns, once all n
	// are dead letters, their topic sequences in publishing order.
	Fail(t *testing.T, n int) []uint64
	// List reads up to limit letters with ids above after, as the owner's
	// API answers.
	List(t *testing.T, after uint64, limit int) []Letter
	// Heal makes the owner's target accept what it refused (a sink's
	// table loses the constraint); a subscription's needs nothing.
	Heal(t *testing.T)
	// Redrive redrives the given letters (none: all) and says how many.
	Redrive(t *testing.T, ids []uint64) int
	// Drop deletes the given letters (none: all) and says how many.
	Drop(t *testing.T, ids []uint64) int
	// Received returns the topic sequences the owner's target has taken
	// in through redrive so far, a repeat listed again.
	Received(t *testing.T) []uint64
}

// Run runs the suite against a fresh owner for each case.
func Run(t *testing.T, newOwner func(t *testing.T) Owner) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, o Owner)
	}{
		{"record in order", recordInOrder},
		{"paging", paging},
		{"redrive exactly once", redriveOnce},
		{"drop", drop},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newOwner(t)) })
	}
}

func all(t *testing.T, o Owner) []Letter {
	t.Helper()
	return o.List(t, 0, 1000)
}

func seqs(ls []Letter) []uint64 {
	out := make([]uint64, len(ls))
	for i, l := range ls {
		out[i] = l.Seq
	}
	return out
}

func recordInOrder(t *testing.T, o Owner) {
	failed := o.Fail(t, 3)
	got := all(t, o)
	if fmt.Sprint(seqs(got)) != fmt.Sprint(failed) {
		t.Fatalf("letters of seqs %v, want %v in the order they failed", seqs(got), failed)
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("ids not increasing: %+v", got)
		}
	}
}

func paging(t *testing.T, o Owner) {
	failed := o.Fail(t, 5)
	var pages []uint64
	var after uint64
	for range 10 {
		page := o.List(t, after, 2)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d with limit 2", len(page))
		}
		pages = append(pages, seqs(page)...)
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(pages) != fmt.Sprint(failed) {
		t.Fatalf("pages gave %v, want %v", pages, failed)
	}
}

func redriveOnce(t *testing.T, o Owner) {
	failed := o.Fail(t, 4)
	o.Heal(t)
	ls := all(t, o)
	// One letter by id, then all of it twice at once (two operators).
	if n := o.Redrive(t, []uint64{ls[0].ID, ls[0].ID}); n != 1 {
		t.Fatalf("redrive of one id: %d", n)
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Go(func() { counts[i] = o.Redrive(t, nil) })
	}
	wg.Wait()
	if counts[0]+counts[1] != len(failed)-1 {
		t.Fatalf("concurrent redrives counted %d + %d, want %d in all", counts[0], counts[1], len(failed)-1)
	}
	if left := all(t, o); len(left) != 0 {
		t.Fatalf("letters left after redrive: %+v", left)
	}
	got := o.Received(t)
	slices.Sort(got)
	want := slices.Clone(failed)
	slices.Sort(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the target took %v through redrive, want each of %v once", got, want)
	}
	if n := o.Redrive(t, nil); n != 0 {
		t.Fatalf("a redrive with nothing left redrove %d", n)
	}
}

func drop(t *testing.T, o Owner) {
	o.Fail(t, 3)
	ls := all(t, o)
	if n := o.Drop(t, []uint64{ls[1].ID, 9999}); n != 1 {
		t.Fatalf("drop of one id (and an unknown one): %d", n)
	}
	if left := all(t, o); fmt.Sprint(seqs(left)) != fmt.Sprint([]uint64{ls[0].Seq, ls[2].Seq}) {
		t.Fatalf("left %+v", left)
	}
	if n := o.Drop(t, nil); n != 2 {
		t.Fatalf("drop of all: %d", n)
	}
	if left := all(t, o); len(left) != 0 {
		t.Fatalf("left after dropping all: %+v", left)
	}
}
