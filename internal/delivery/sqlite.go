package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stadion-dev/stadion/internal/config"
)

// SQLite is a Store on one SQLite file through modernc.org/sqlite, a pure
// Go translation of SQLite: stadion stays one static binary without cgo.
//
// The file runs in WAL mode with synchronous=FULL: a sink acknowledges an
// event to the engine once its transaction commits, so the commit must
// survive a power cut (NORMAL may lose the last commits then). One
// connection writes; busy_timeout waits for other writers of the file, and
// SQLITE_BUSY after it is retried. Tables are STRICT, so a value of the
// wrong type is rejected instead of being stored as something else.
type SQLite struct {
	db    *sql.DB
	stmts stmtCache
}

var _ Store = (*SQLite)(nil)

// sqliteMaxParams is SQLite's default limit of bound parameters.
const sqliteMaxParams = 32766

// OpenSQLite opens (creating if missing) the SQLite file at path.
func OpenSQLite(path string, busy time.Duration) (*SQLite, error) {
	db, err := OpenSQLiteDB(path, busy)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &SQLite{db: db, stmts: stmtCache{db: db}}, nil
}

// OpenSQLiteDB opens path with the settings every stadion SQLite file uses
// (see SQLite). Benchmarks use it so that their reference loop writes
// under the same settings as the sinks.
func OpenSQLiteDB(path string, busy time.Duration) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Close closes the file.
func (s *SQLite) Close() error {
	s.stmts.close()
	return s.db.Close()
}

var sqliteTypes = map[config.ColumnType]string{
	config.TypeText: "TEXT", config.TypeBigint: "INTEGER", config.TypeDouble: "REAL",
	config.TypeBoolean: "INTEGER", config.TypeTimestamp: "TEXT", config.TypeJSON: "TEXT",
}

// EnsureTable creates the table if missing.
func (s *SQLite) EnsureTable(ctx context.Context, t *Table) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", t.Name)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "%s %s%s, ", c.Name, sqliteTypes[c.Type], notNull(t, c.Name))
	}
	fmt.Fprintf(&b, "_seq INTEGER NOT NULL, _updated TEXT NOT NULL, PRIMARY KEY (%s)) STRICT, WITHOUT ROWID",
		strings.Join(t.Key, ", "))
	_, err := s.db.ExecContext(ctx, b.String())
	return s.classify(err)
}

func notNull(t *Table, col string) string {
	for _, k := range t.Key {
		if k == col {
			return " NOT NULL"
		}
	}
	return ""
}

// Upsert writes rows in one transaction. Statements are prepared before
// the transaction begins: the file has one connection, which the
// transaction then holds.
func (s *SQLite) Upsert(ctx context.Context, t *Table, rows []Row) error {
	parts := chunks(latestPerKey(t, rows), len(t.Columns)+2, sqliteMaxParams)
	stmts := make([]*sql.Stmt, len(parts))
	for i, part := range parts {
		st, release, err := s.stmts.get(ctx, t, len(part))
		if err != nil {
			return s.classify(err)
		}
		defer release()
		stmts[i] = st
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	now := time.Now().UTC().Format(sqliteTime)
	for i, part := range parts {
		args := make([]any, 0, len(part)*(len(t.Columns)+2))
		for _, r := range part {
			for _, v := range r.Values {
				args = append(args, sqliteValue(v))
			}
			args = append(args, int64(r.Seq), now)
		}
		if _, err := tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, args...); err != nil {
			return s.classify(err)
		}
	}
	return s.classify(tx.Commit())
}

// Count returns the number of rows in t.
func (s *SQLite) Count(ctx context.Context, t *Table) (uint64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+t.Name).Scan(&n)
	return uint64(n), s.classify(err)
}

// sqliteTime stores timestamps as fixed-width UTC text, so they sort.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

func sqliteValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(sqliteTime)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

// classify marks the errors SQLite repeats for the same data as permanent:
// constraint and type violations, values too big. Busy, locked, I/O and
// schema errors are retried (an operator can fix a table without losing
// events).
func (s *SQLite) classify(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
		return permanent(err)
	}
	return err
}
