package delivery

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

func TestSQLiteStore(t *testing.T) {
	runStoreSuite(t, storeHarness{
		open: func(t *testing.T) (Store, storeDB) {
			path := filepath.Join(t.TempDir(), "test.db")
			return openTestSQLite(t, path, 5*time.Second), sqliteDB{openRawSQLite(t, path)}
		},
		blocked: func(t *testing.T) Store {
			path := filepath.Join(t.TempDir(), "locked.db")
			lockSQLite(t, openRawSQLite(t, path))
			return openTestSQLite(t, path, 50*time.Millisecond)
		},
	})
}

func openTestSQLite(t *testing.T, path string, busy time.Duration) *SQLite {
	t.Helper()
	s, err := OpenSQLite(path, busy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openRawSQLite opens a second, independent connection to the file.
func openRawSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// lockSQLite holds the file's write lock from another connection until
// the returned function (also run at cleanup) releases it.
func lockSQLite(t *testing.T, db *sql.DB) (release func()) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("CREATE TABLE IF NOT EXISTS _lock (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO _lock VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	release = func() { tx.Rollback() }
	t.Cleanup(release)
	return release
}

type sqliteDB struct{ db *sql.DB }

func (d sqliteDB) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := d.db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d sqliteDB) rows(t *testing.T, tbl *Table) map[string]map[string]any {
	t.Helper()
	var cols []string
	for _, c := range tbl.Columns {
		cols = append(cols, c.Name)
	}
	rs, err := d.db.Query(fmt.Sprintf("SELECT %s, _seq FROM %s", strings.Join(cols, ", "), tbl.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]map[string]any{}
	for rs.Next() {
		vals := make([]any, len(cols)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]any{"_seq": vals[len(cols)]}
		var key []string
		for i, c := range tbl.Columns {
			row[c.Name] = sqliteCanonical(t, c.Type, vals[i])
			if i < len(tbl.Key) {
				key = append(key, fmt.Sprint(row[c.Name]))
			}
		}
		out[strings.Join(key, "|")] = row
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqliteCanonical(t *testing.T, typ config.ColumnType, v any) any {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil
	}
	switch typ {
	case config.TypeBoolean:
		return v.(int64) != 0
	case config.TypeTimestamp:
		ts, err := time.Parse(sqliteTime, v.(string))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	case config.TypeJSON:
		return canonicalJSON(v.(string))
	}
	return v
}
