package delivery

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/deadletter/deadlettertest"
)

// TestSinkDeadLetterConformance runs the dead-letter owners' suite against
// a sink: events whose rows the database's CHECK rejects are dead letters;
// healing drops the CHECK; redrive writes the rows into the table.
func TestSinkDeadLetterConformance(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T) deadlettertest.Owner {
		r := newRig(t)
		r.topic(t, "arrivals")
		dir := t.TempDir()
		db := sqliteSinkDB(t, dir)
		db.exec(t, checkedArrivals)
		s := startService(t, testConfig(t, "", arrivalsSink), r.js, dir, 0)
		return &sinkOwner{r: r, db: db, s: s}
	})
}

type sinkOwner struct {
	r  *rig
	db sqliteDB
	s  *Service
	n  int
}

func (o *sinkOwner) Fail(t *testing.T, n int) []uint64 {
	before := len(o.List(t, 0, 1000))
	var seqs []uint64
	for range n {
		o.n++
		ev := arrival(fmt.Sprintf("c%03d", o.n), "CA1", o.n)
		ev["status"] = "poison"
		seqs = append(seqs, o.r.publish(t, "arrivals", fmt.Sprintf("c%03d", o.n), ev))
	}
	waitFor(t, fmt.Sprintf("%d dead letters", before+n), func() bool { return len(o.List(t, 0, 1000)) == before+n })
	return seqs
}

func (o *sinkOwner) List(t *testing.T, after uint64, limit int) []deadlettertest.Letter {
	dls, err := o.s.DeadLetters(t.Context(), "arrivals-db", after, limit)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]deadlettertest.Letter, len(dls))
	for i, dl := range dls {
		out[i] = deadlettertest.Letter{ID: dl.ID, Seq: dl.Seq}
	}
	return out
}

func (o *sinkOwner) Heal(t *testing.T) {
	o.db.exec(t, "ALTER TABLE arrivals RENAME TO old_arrivals")
	o.db.exec(t, strings.Replace(checkedArrivals, "CHECK (status <> 'poison')", "", 1))
	o.db.exec(t, "INSERT INTO arrivals SELECT * FROM old_arrivals")
}

func (o *sinkOwner) Redrive(t *testing.T, ids []uint64) int {
	res, err := o.s.Redrive(t.Context(), "arrivals-db", ids)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("redrive: %+v %v", res, err)
	}
	return res.Redriven
}

func (o *sinkOwner) Drop(t *testing.T, ids []uint64) int {
	n, err := o.s.DeleteDeadLetters(t.Context(), "arrivals-db", ids)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Received: the table's rows of poisoned events (a row written twice is
// one row: the upsert is what makes a sink's redrive idempotent).
func (o *sinkOwner) Received(t *testing.T) []uint64 {
	var out []uint64
	for _, row := range o.db.rows(t, o.s.sinks["arrivals-db"].table) {
		if row["status"] == "poison" {
			out = append(out, uint64(row["_seq"].(int64)))
		}
	}
	return out
}
