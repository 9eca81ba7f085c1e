package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// storeHarness gives the conformance suite one backend.
type storeHarness struct {
	// open returns a Store on a fresh, empty database.
	open func(t *testing.T) (Store, storeDB)
	// blocked returns a Store whose writes fail for now, as they do when
	// the database is down or locked.
	blocked func(t *testing.T) Store
}

// storeDB lets the suite look behind a Store.
type storeDB interface {
	exec(t *testing.T, sql string)
	// rows reads a table as key -> column -> canonical value (string,
	// int64, float64, bool, UTC time.Time, compact JSON string), with _seq.
	rows(t *testing.T, tbl *Table) map[string]map[string]any
}

// runStoreSuite is the conformance suite every Store passes.
func runStoreSuite(t *testing.T, h storeHarness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store, db storeDB)
	}{
		{"CreateAndUpsert", suiteCreateAndUpsert},
		{"IdempotentReplay", suiteIdempotentReplay},
		{"NewerWins", suiteNewerWins},
		{"RepeatedKeyInBatch", suiteRepeatedKeyInBatch},
		{"Types", suiteTypes},
		{"LargeBatch", suiteLargeBatch},
		{"Count", suiteCount},
		{"PermanentNullKey", suitePermanentNullKey},
		{"PermanentCheckIsAtomic", suitePermanentCheck},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, db := h.open(t)
			tc.fn(t, s, db)
		})
	}
	t.Run("Transient", func(t *testing.T) {
		s := h.blocked(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.EnsureTable(ctx, suiteTable())
		if err == nil {
			err = s.Upsert(ctx, suiteTable(), []Row{suiteRow(1, "a", "x")})
		}
		if err == nil || errors.Is(err, ErrPermanent) {
			t.Fatalf("write to an unavailable database: got %v, want a transient error", err)
		}
	})
}

func suiteTable() *Table {
	return &Table{Name: "people", Key: []string{"id", "flight"}, Columns: []Column{
		{"id", config.TypeText}, {"flight", config.TypeText}, {"status", config.TypeText},
	}}
}

func suiteRow(seq uint64, id, status string) Row {
	return Row{Seq: seq, Values: []any{id, "CA1", status}}
}

func mustEnsure(t *testing.T, s Store, tbl *Table) {
	t.Helper()
	if err := s.EnsureTable(t.Context(), tbl); err != nil {
		t.Fatalf("EnsureTable: %v", err)
	}
}

func mustUpsert(t *testing.T, s Store, tbl *Table, rows ...Row) {
	t.Helper()
	if err := s.Upsert(t.Context(), tbl, rows); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

// statuses returns id -> status of the suite table.
func statuses(t *testing.T, db storeDB) map[string]any {
	out := map[string]any{}
	for _, r := range db.rows(t, suiteTable()) {
		out[r["id"].(string)] = r["status"]
	}
	return out
}

func wantStatuses(t *testing.T, db storeDB, want map[string]any) {
	t.Helper()
	got := statuses(t, db)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows: got %v, want %v", got, want)
	}
}

func suiteCreateAndUpsert(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	mustEnsure(t, s, tbl) // twice is fine
	mustUpsert(t, s, tbl, suiteRow(1, "a", "landed"), suiteRow(2, "b", "boarding"))
	wantStatuses(t, db, map[string]any{"a": "landed", "b": "boarding"})
	for _, r := range db.rows(t, tbl) {
		if r["id"] == "b" && r["_seq"] != int64(2) {
			t.Errorf("_seq of b = %v, want 2", r["_seq"])
		}
	}
}

func suiteIdempotentReplay(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	batch := []Row{suiteRow(1, "a", "x"), suiteRow(2, "b", "y"), suiteRow(3, "c", "z")}
	mustUpsert(t, s, tbl, batch...)
	mustUpsert(t, s, tbl, batch...)
	mustUpsert(t, s, tbl, batch[1:]...)
	wantStatuses(t, db, map[string]any{"a": "x", "b": "y", "c": "z"})
}

func suiteNewerWins(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	mustUpsert(t, s, tbl, suiteRow(10, "a", "new"))
	mustUpsert(t, s, tbl, suiteRow(5, "a", "old"))
	wantStatuses(t, db, map[string]any{"a": "new"})
	mustUpsert(t, s, tbl, suiteRow(11, "a", "newer"))
	wantStatuses(t, db, map[string]any{"a": "newer"})
}

func suiteRepeatedKeyInBatch(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	mustUpsert(t, s, tbl, suiteRow(3, "a", "third"), suiteRow(1, "a", "first"), suiteRow(2, "a", "second"))
	wantStatuses(t, db, map[string]any{"a": "third"})
}

func suiteTypes(t *testing.T, s Store, db storeDB) {
	tbl := &Table{Name: "typed", Key: []string{"id"}, Columns: []Column{
		{"id", config.TypeBigint}, {"name", config.TypeText}, {"score", config.TypeDouble},
		{"ok", config.TypeBoolean}, {"at", config.TypeTimestamp}, {"doc", config.TypeJSON},
	}}
	at := time.Date(2022, 2, 4, 20, 0, 0, 123456000, time.FixedZone("CST", 8*3600))
	mustEnsure(t, s, tbl)
	mustUpsert(t, s, tbl,
		Row{Seq: 1, Values: []any{int64(1) << 40, "Zhang", 98.25, true, at, `{"a":[1,2]}`}},
		Row{Seq: 2, Values: []any{int64(-7), nil, nil, false, nil, nil}})
	got := db.rows(t, tbl)
	want := map[string]map[string]any{
		fmt.Sprint(int64(1) << 40): {"id": int64(1) << 40, "name": "Zhang", "score": 98.25, "ok": true, "at": at.UTC(), "doc": `{"a":[1,2]}`, "_seq": int64(1)},
		"-7":                       {"id": int64(-7), "name": nil, "score": nil, "ok": false, "at": nil, "doc": nil, "_seq": int64(2)},
	}
	for k, w := range want {
		for col, v := range w {
			if g := got[k][col]; fmt.Sprintf("%T %v", g, g) != fmt.Sprintf("%T %v", v, v) {
				t.Errorf("row %s column %s: got %T %v, want %T %v", k, col, g, g, v, v)
			}
		}
	}
}

func suiteLargeBatch(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	var rows []Row
	for i := range 20000 { // more parameters than one statement binds
		rows = append(rows, suiteRow(uint64(i+1), fmt.Sprint(i), "s"))
	}
	mustUpsert(t, s, tbl, rows...)
	if n := len(db.rows(t, tbl)); n != len(rows) {
		t.Fatalf("rows = %d, want %d", n, len(rows))
	}
}

func suitePermanentNullKey(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	err := s.Upsert(t.Context(), tbl, []Row{{Seq: 1, Values: []any{nil, "CA1", "x"}}})
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("NULL key: got %v, want ErrPermanent", err)
	}
}

func suitePermanentCheck(t *testing.T, s Store, db storeDB) {
	tbl := suiteTable()
	db.exec(t, `CREATE TABLE people (id TEXT NOT NULL, flight TEXT NOT NULL, status TEXT CHECK (status <> 'poison'),
		_seq BIGINT NOT NULL, _updated TIMESTAMPTZ NOT NULL, PRIMARY KEY (id, flight))`)
	mustEnsure(t, s, tbl) // the existing table is used as it is
	err := s.Upsert(t.Context(), tbl, []Row{suiteRow(1, "a", "fine"), suiteRow(2, "b", "poison")})
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("CHECK violation: got %v, want ErrPermanent", err)
	}
	wantStatuses(t, db, map[string]any{}) // nothing of the failed batch
	mustUpsert(t, s, tbl, suiteRow(1, "a", "fine"))
	wantStatuses(t, db, map[string]any{"a": "fine"})
}

// canonicalJSON re-encodes a JSON text compactly with sorted keys.
func canonicalJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

func suiteCount(t *testing.T, s Store, _ storeDB) {
	tbl := suiteTable()
	mustEnsure(t, s, tbl)
	if n, err := s.Count(t.Context(), tbl); err != nil || n != 0 {
		t.Fatalf("Count of an empty table = %d, %v", n, err)
	}
	mustUpsert(t, s, tbl, suiteRow(1, "a", "x"), suiteRow(2, "b", "y"))
	mustUpsert(t, s, tbl, suiteRow(1, "a", "x"), suiteRow(3, "b", "z")) // a replay and an update add no row
	if n, err := s.Count(t.Context(), tbl); err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
}
