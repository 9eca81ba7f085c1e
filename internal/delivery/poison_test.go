package delivery

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const checkedArrivals = `CREATE TABLE arrivals (person_id TEXT NOT NULL, flight TEXT NOT NULL, bags INTEGER, eta TEXT,
	status TEXT CHECK (status <> 'poison'), _seq INTEGER NOT NULL, _updated TEXT NOT NULL, PRIMARY KEY (person_id, flight))`

func TestSinkDeadLettersPoisonAndRedrives(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	dir := t.TempDir()
	db := sqliteSinkDB(t, dir)
	db.exec(t, checkedArrivals)
	want := map[string]any{}
	for i := range 120 {
		person := fmt.Sprintf("p%03d", i)
		ev := arrival(person, "CA1", i)
		switch {
		case i%40 == 7: // the database's CHECK rejects it
			ev["status"] = "poison"
		case i == 50: // cannot be a bigint: rejected before the database
			ev["bags"] = "many"
		default:
			want[person+"|CA1"] = ev["status"]
		}
		r.publish(t, "arrivals", person, ev)
	}
	s := startService(t, testConfig(t, "", arrivalsSink), r.js, dir, 0)
	waitFor(t, "the good rows", func() bool { return sameRows(tableStatuses(t, db, s), want) })
	waitFor(t, "4 dead letters", func() bool { st, _ := s.Status(t.Context(), "arrivals-db"); return st.DeadLetters == 4 })

	dls, err := s.DeadLetters(t.Context(), "arrivals-db", 0, 100)
	if err != nil || len(dls) != 4 {
		t.Fatalf("dead letters: %v, %d", err, len(dls))
	}
	for _, dl := range dls {
		checkDeadLetter(t, dl)
	}

	// Fix the table (drop the CHECK), then redrive: the three CHECK
	// victims land, the bad bigint stays.
	db.exec(t, "ALTER TABLE arrivals RENAME TO old_arrivals")
	db.exec(t, strings.Replace(checkedArrivals, "CHECK (status <> 'poison')", "", 1))
	db.exec(t, "INSERT INTO arrivals SELECT * FROM old_arrivals")
	res, err := s.Redrive(t.Context(), "arrivals-db", nil)
	if err != nil || res.Redriven != 3 || len(res.Failed) != 1 {
		t.Fatalf("redrive: %+v, %v", res, err)
	}
	want["p007|CA1"], want["p047|CA1"], want["p087|CA1"] = "poison", "poison", "poison"
	if got := tableStatuses(t, db, s); !sameRows(got, want) {
		t.Fatalf("after redrive: got %v\nwant %v", got, want)
	}
	left, _ := s.DeadLetters(t.Context(), "arrivals-db", 0, 100)
	if len(left) != 1 || left[0].Seq != 51 {
		t.Fatalf("left after redrive: %+v", left)
	}
	if n, err := s.DeleteDeadLetters(t.Context(), "arrivals-db", []uint64{left[0].ID}); n != 1 || err != nil {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if st, _ := s.Status(t.Context(), "arrivals-db"); st.DeadLetters != 0 {
		t.Fatalf("dead letters after delete: %d", st.DeadLetters)
	}
}

func checkDeadLetter(t *testing.T, dl DeadLetter) {
	t.Helper()
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(dl.Event, &ev); err != nil {
		t.Fatalf("dead letter event: %v", err)
	}
	if dl.Sink != "arrivals-db" || dl.Topic != "arrivals" || dl.Seq == 0 || dl.FirstFailed.IsZero() || dl.LastFailed.Before(dl.FirstFailed) {
		t.Errorf("dead letter fields: %+v", dl)
	}
	switch {
	case ev.Data["status"] == "poison":
		if !strings.Contains(dl.Error, "CHECK constraint") || dl.Attempts != 2 {
			t.Errorf("CHECK victim: error %q, attempts %d (want the database's error, 2 attempts)", dl.Error, dl.Attempts)
		}
	case ev.Data["bags"] == "many":
		if !strings.Contains(dl.Error, "want an integer") || dl.Attempts != 1 {
			t.Errorf("bad bigint: error %q, attempts %d", dl.Error, dl.Attempts)
		}
	default:
		t.Errorf("unexpected dead letter: %s", dl.Event)
	}
}
