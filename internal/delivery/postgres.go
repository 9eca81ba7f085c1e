package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stadion-dev/stadion/internal/config"
)

// Postgres is a Store on a PostgreSQL database through pgx's pool. A batch
// is one transaction of multi-row INSERT ... ON CONFLICT statements (at
// most 65,535 parameters each). Their text is built once per table and
// row count; pgx prepares each once per connection and then only binds.
// COPY into a temporary table and a merge from it measured no faster on
// the same rows (docs/benchmarks.md), so the upsert stays one statement.
type Postgres struct {
	pool *pgxpool.Pool
	sqls sqlCache
}

var _ Store = (*Postgres)(nil)

const pgMaxParams = 65535

// OpenPostgres connects to url. The pool connects lazily, so a database
// that is down at start is retried by the sinks, not fatal.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConnIdleTime = time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// Close closes the pool.
func (p *Postgres) Close() error { p.pool.Close(); return nil }

var pgTypes = map[config.ColumnType]string{
	config.TypeText: "text", config.TypeBigint: "bigint", config.TypeDouble: "double precision",
	config.TypeBoolean: "boolean", config.TypeTimestamp: "timestamptz", config.TypeJSON: "jsonb",
}

// EnsureTable creates the table if missing.
func (p *Postgres) EnsureTable(ctx context.Context, t *Table) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", t.Name)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "%s %s%s, ", c.Name, pgTypes[c.Type], notNull(t, c.Name))
	}
	fmt.Fprintf(&b, "_seq bigint NOT NULL, _updated timestamptz NOT NULL, PRIMARY KEY (%s))", strings.Join(t.Key, ", "))
	_, err := p.pool.Exec(ctx, b.String())
	if isDuplicateType(err) { // two replicas creating the table at once
		return nil
	}
	return classifyPG(err)
}

func isDuplicateType(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07")
}

// Upsert writes rows in one transaction.
func (p *Postgres) Upsert(ctx context.Context, t *Table, rows []Row) error {
	rows = latestPerKey(t, rows)
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		now := time.Now()
		for _, part := range chunks(rows, len(t.Columns)+2, pgMaxParams) {
			args := make([]any, 0, len(part)*(len(t.Columns)+2))
			for _, r := range part {
				args = append(args, r.Values...)
				args = append(args, int64(r.Seq), now)
			}
			if _, err := tx.Exec(ctx, p.sqls.get(t, len(part)), args...); err != nil {
				return err
			}
		}
		return nil
	})
	return classifyPG(err)
}

// Count returns the number of rows in t.
func (p *Postgres) Count(ctx context.Context, t *Table) (uint64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, "SELECT count(*) FROM "+t.Name).Scan(&n)
	return uint64(n), classifyPG(err)
}

// classifyPG marks data errors (class 22), integrity violations (class 23)
// and datatype mismatches as permanent. Connection failures, shutdowns,
// serialization failures, deadlocks, lack of resources and schema errors
// are retried.
func classifyPG(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch {
	case strings.HasPrefix(pe.Code, "22"), strings.HasPrefix(pe.Code, "23"), pe.Code == "42804":
		return permanent(err)
	}
	return err
}
