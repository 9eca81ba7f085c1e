package delivery

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// More distinct batch sizes than the statement cache holds: every batch is
// still written, through cached and one-use statements alike, and a
// repeated key within a batch keeps its newest row.
func TestSQLiteUpsertBeyondStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tbl := &Table{Name: "laps", Key: []string{"id"}, Columns: []Column{
		{Name: "id", Type: config.TypeText}, {Name: "n", Type: config.TypeBigint},
	}}
	if err := db.EnsureTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	seq, want := uint64(0), 0
	for size := 1; size <= maxCachedStmts+8; size++ {
		rows := make([]Row, size)
		for i := range rows {
			seq++
			rows[i] = Row{Seq: seq, Values: []any{fmt.Sprintf("k%d-%d", size, i), int64(seq)}}
		}
		if err := db.Upsert(ctx, tbl, rows); err != nil {
			t.Fatalf("batch of %d: %v", size, err)
		}
		want += size
	}
	dup := []Row{{Seq: seq + 1, Values: []any{"k1-0", int64(-1)}}, {Seq: seq + 2, Values: []any{"k1-0", int64(-2)}}}
	if err := db.Upsert(ctx, tbl, dup); err != nil {
		t.Fatal(err)
	}
	var count int
	var n int64
	if err := db.db.QueryRowContext(ctx, "SELECT count(*) FROM laps").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRowContext(ctx, "SELECT n FROM laps WHERE id = 'k1-0'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if count != want || n != -2 {
		t.Fatalf("%d rows, k1-0 = %d; want %d rows, k1-0 = -2", count, n, want)
	}
}
