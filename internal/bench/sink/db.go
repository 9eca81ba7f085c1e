package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stadion-dev/stadion/internal/delivery"
)

// sinkDB is a database the benchmark measures a sink against.
type sinkDB struct {
	kind string // sqlite or postgres
	url  string // postgres only; SQLite is a file under the server's data
}

func (db sinkDB) reference() string {
	if db.kind == "postgres" {
		return "idempotent upsert loop"
	}
	return "batched INSERT"
}

// sinkConn is this process's connection to a sink's database.
type sinkConn interface {
	// count is how many rows the sink's table holds.
	count(ctx context.Context) (int64, error)
	// rows reads the sink's table: columns person_id, flight, eta, bags,
	// status, _seq, _updated.
	rows(ctx context.Context) ([][]any, error)
	// plain writes rows into a fresh table shaped like the sink's, batch
	// rows per transaction, and returns the time taken.
	plain(ctx context.Context, rows [][]any, batch int) (time.Duration, error)
	close() error
}

var sinkColumns = []string{"person_id", "flight", "eta", "bags", "status", "_seq", "_updated"}

func openSinkConn(ctx context.Context, db sinkDB, path, table string) (sinkConn, error) {
	if db.kind == "postgres" {
		conn, err := pgx.Connect(ctx, db.url)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		return &pgConn{conn: conn, table: table}, nil
	}
	return &sqliteConn{path: path, table: table}, nil
}

// sqliteConn opens files with the settings of the sinks' SQLite.
type sqliteConn struct {
	path, table string
	db          *sql.DB // the sink's file, opened on first use
}

func openSQLiteFile(path string) (*sql.DB, error) {
	return delivery.OpenSQLiteDB(path, 5*time.Second)
}

func (c *sqliteConn) open() (*sql.DB, error) {
	if c.db == nil {
		db, err := openSQLiteFile(c.path)
		if err != nil {
			return nil, err
		}
		c.db = db
	}
	return c.db, nil
}

func (c *sqliteConn) count(ctx context.Context) (int64, error) {
	db, err := c.open()
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM "+c.table).Scan(&n)
	return n, err
}

func (c *sqliteConn) rows(ctx context.Context) ([][]any, error) {
	db, err := c.open()
	if err != nil {
		return nil, err
	}
	rs, err := db.QueryContext(ctx, "SELECT "+strings.Join(sinkColumns, ", ")+" FROM "+c.table)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][]any
	for rs.Next() {
		vals := make([]any, len(sinkColumns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rs.Err()
}

// plain writes into a new file beside the sink's, with the sink's DDL.
func (c *sqliteConn) plain(ctx context.Context, rows [][]any, batch int) (time.Duration, error) {
	src, err := c.open()
	if err != nil {
		return 0, err
	}
	var ddl string
	if err := src.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", c.table).Scan(&ddl); err != nil {
		return 0, fmt.Errorf("the sink's table: %w", err)
	}
	db, err := openSQLiteFile(strings.TrimSuffix(c.path, ".db") + "-plain.db")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		part := rows[i:min(len(rows), i+batch)]
		if err := insertBatch(ctx, db, c.table, part); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// insertBatch is one transaction of one multi-row INSERT.
func insertBatch(ctx context.Context, db *sql.DB, table string, rows [][]any) error {
	var q strings.Builder
	fmt.Fprintf(&q, "INSERT INTO %s (%s) VALUES ", table, strings.Join(sinkColumns, ", "))
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(sinkColumns)), ", ") + ")"
	args := make([]any, 0, len(rows)*len(sinkColumns))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(ph)
		args = append(args, r...)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return err
	}
	return tx.Commit()
}

func (c *sqliteConn) close() error {
	if c.db == nil {
		return nil
	}
	return c.db.Close()
}

// pgConn works in a shared database: it drops the tables it measured.
type pgConn struct {
	conn  *pgx.Conn
	table string
}

func (c *pgConn) count(ctx context.Context) (int64, error) {
	var n int64
	err := c.conn.QueryRow(ctx, "SELECT count(*) FROM "+c.table).Scan(&n)
	return n, err
}

func (c *pgConn) rows(ctx context.Context) ([][]any, error) {
	rs, err := c.conn.Query(ctx, "SELECT "+strings.Join(sinkColumns, ", ")+" FROM "+c.table)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][]any
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rs.Err()
}

// plain upserts into table_plain: one multi-row INSERT ... ON CONFLICT
// DO UPDATE per batch, its own transaction, the statement prepared once
// (pgx caches it): the plain loop an application would write to make a
// replay harmless.
func (c *pgConn) plain(ctx context.Context, rows [][]any, batch int) (time.Duration, error) {
	plain := c.table + "_plain"
	if _, err := c.conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", plain, c.table)); err != nil {
		return 0, err
	}
	set := make([]string, 0, len(sinkColumns))
	for _, col := range sinkColumns[2:] {
		set = append(set, col+" = excluded."+col)
	}
	conflict := " ON CONFLICT (person_id, flight) DO UPDATE SET " + strings.Join(set, ", ")
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		part := rows[i:min(len(rows), i+batch)]
		var q strings.Builder
		fmt.Fprintf(&q, "INSERT INTO %s (%s) VALUES ", plain, strings.Join(sinkColumns, ", "))
		args := make([]any, 0, len(part)*len(sinkColumns))
		for j, r := range part {
			if j > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for k := range r {
				if k > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "$%d", len(args)+k+1)
			}
			q.WriteByte(')')
			args = append(args, r...)
		}
		q.WriteString(conflict)
		if _, err := c.conn.Exec(ctx, q.String(), args...); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// copyPlain COPYs into table_copy, one COPY per batch (its own
// transaction): the fastest load, but not idempotent.
func (c *pgConn) copyPlain(ctx context.Context, rows [][]any, batch int) (time.Duration, error) {
	table := c.table + "_copy"
	if _, err := c.conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", table, c.table)); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		part := rows[i:min(len(rows), i+batch)]
		if _, err := c.conn.CopyFrom(ctx, pgx.Identifier{table}, sinkColumns, pgx.CopyFromRows(part)); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func (c *pgConn) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s_plain, %s_copy", c.table, c.table, c.table))
	return errors.Join(err, c.conn.Close(ctx))
}
