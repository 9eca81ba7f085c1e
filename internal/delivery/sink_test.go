package delivery

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// publishUpdates publishes rounds of updates to keys people; it returns
// each person's final status.
func publishUpdates(t testing.TB, r *rig, people, rounds int) map[string]any {
	want := map[string]any{}
	n := 0
	for round := range rounds {
		for p := range people {
			person := fmt.Sprintf("p%04d", p)
			n++
			r.publish(t, "arrivals", person, arrival(person, "CA"+fmt.Sprint(round%2), n))
			want[person+"|CA"+fmt.Sprint(round%2)] = fmt.Sprintf("update-%d", n)
		}
	}
	return want
}

// tableStatuses reads key -> status from the sink's table.
func tableStatuses(t *testing.T, db storeDB, s *Service) map[string]any {
	out := map[string]any{}
	for k, row := range db.rows(t, s.sinks["arrivals-db"].table) {
		out[k] = row["status"]
	}
	return out
}

func sameRows(got, want map[string]any) bool { return fmt.Sprint(got) == fmt.Sprint(want) }

func sqliteSinkDB(t *testing.T, dir string) sqliteDB {
	return sqliteDB{openRawSQLite(t, filepath.Join(dir, "stadion.db"))}
}

func TestSinkDrainsTopicIntoSQLite(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	want := publishUpdates(t, r, 150, 4)
	dir := t.TempDir()
	s := startService(t, testConfig(t, "", arrivalsSink), r.js, dir, 0)
	db := sqliteSinkDB(t, dir)
	waitFor(t, "the table to hold every latest update", func() bool { return sameRows(tableStatuses(t, db, s), want) })

	st, err := s.Status(t.Context(), "arrivals-db")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "running" || st.DeadLetters != 0 || st.RowsWritten == 0 {
		t.Errorf("status = %+v", st)
	}
	waitFor(t, "lag 0", func() bool { st, err := s.Status(t.Context(), "arrivals-db"); return err == nil && st.Lag == 0 })
	for _, row := range db.rows(t, s.sinks["arrivals-db"].table) {
		if _, ok := row["eta"].(time.Time); !ok {
			t.Fatalf("eta inferred from the schema's date-time should be a timestamp, got %T", row["eta"])
		}
		if _, ok := row["bags"].(int64); !ok {
			t.Fatalf("bags inferred from the schema's integer should be a bigint, got %T", row["bags"])
		}
	}
}

func TestSinkRetriesWhileSQLiteIsLocked(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	dir := t.TempDir()
	cfg := testConfig(t, "databases:\n  main: {url: \"sqlite://stadion.db?busy_timeout=20ms\"}\n", arrivalsSink)
	s := startService(t, cfg, r.js, dir, 0)
	db := sqliteSinkDB(t, dir)
	waitFor(t, "the table", func() bool {
		var n int
		return db.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'arrivals'").Scan(&n) == nil && n == 1
	})
	release := lockSQLite(t, db.db)
	want := publishUpdates(t, r, 50, 3)
	waitFor(t, "a retried write", func() bool {
		st, _ := s.Status(t.Context(), "arrivals-db")
		return strings.Contains(st.LastError, "locked") || strings.Contains(st.LastError, "busy")
	})
	release()
	waitFor(t, "every update after the lock ends", func() bool { return sameRows(tableStatuses(t, db, s), want) })
}

func TestSinkRestartMidDrainLosesNothing(t *testing.T) {
	r := newRig(t)
	r.topic(t, "arrivals")
	want := publishUpdates(t, r, 400, 5)
	dir := t.TempDir()
	cfg := testConfig(t, "", arrivalsSink)
	db := sqliteSinkDB(t, dir)

	// Process A drains part of the topic, then dies: its connection drops
	// (acks in flight are lost) and its sinks stop mid-batch.
	ncA, jsA := r.connect(t)
	a := startService(t, cfg, jsA, dir, 2*time.Second)
	waitFor(t, "process A to write some rows", func() bool { return len(tableStatuses(t, db, a)) > 0 })
	ncA.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Stop(ctx)
	if got := tableStatuses(t, db, a); sameRows(got, want) {
		t.Log("process A finished before it was stopped; the restart is not exercised")
	}

	_, jsB := r.connect(t)
	b := startService(t, cfg, jsB, dir, 2*time.Second)
	waitFor(t, "process B to complete the table", func() bool { return sameRows(tableStatuses(t, db, b), want) })
	var rows, distinct int
	db.db.QueryRow("SELECT count(*), count(DISTINCT person_id || '|' || flight) FROM arrivals").Scan(&rows, &distinct)
	if rows != len(want) || distinct != len(want) {
		t.Fatalf("rows = %d (distinct %d), want %d", rows, distinct, len(want))
	}
	// B's status counts the table, rows A wrote included, not only what B
	// wrote since it started.
	waitFor(t, "B's status to count every row of the table", func() bool {
		st, err := b.Status(t.Context(), "arrivals-db")
		return err == nil && st.Rows != nil && *st.Rows == uint64(len(want))
	})
}
