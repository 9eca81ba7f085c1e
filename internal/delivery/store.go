package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// Store writes rows into one SQL database. Both backends (SQLite and
// PostgreSQL) pass the same conformance suite (store_suite_test.go).
//
// Implementations are safe for concurrent use; sinks sharing a database
// share its Store.
type Store interface {
	// EnsureTable creates t if it does not exist: its columns, the
	// bookkeeping columns _seq and _updated, and the primary key t.Key.
	// An existing table is used as it is.
	EnsureTable(ctx context.Context, t *Table) error
	// Upsert writes rows in one transaction: all or none. A row replaces
	// the row with the same key only if its Seq is higher, so replays and
	// late redeliveries never move a row backwards. Rows may repeat a key;
	// the highest Seq wins. An error the database will repeat for the same
	// rows (constraint or type violation) wraps ErrPermanent; any other
	// error is worth retrying.
	Upsert(ctx context.Context, t *Table, rows []Row) error
	// Count returns how many rows t holds: what a sink has written over
	// its whole life, whichever process wrote them.
	Count(ctx context.Context, t *Table) (uint64, error)
	Close() error
}

// ErrPermanent marks a write the database rejects for its content.
var ErrPermanent = errors.New("rejected by the database")

// permanent wraps err with ErrPermanent, keeping the database's message.
func permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Table is the shape of a sink's table.
type Table struct {
	Name    string
	Columns []Column // key columns first, then the rest by name
	Key     []string
}

// Column is one data column.
type Column struct {
	Name string
	Type config.ColumnType
}

// Row is one event's values, in Table.Columns order, with the stream
// sequence of the event that wrote it. Values are nil, string, int64,
// float64, bool, time.Time or (for json) string.
type Row struct {
	Seq    uint64
	Values []any
}

// keyString identifies a row's key within a batch.
func (t *Table) keyString(r Row) string {
	b := make([]byte, 0, 64)
	for i := range t.Key {
		switch v := r.Values[i].(type) {
		case string: // length-prefixed: no two keys can run together
			b = strconv.AppendInt(append(b, 's'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		case int64:
			b = strconv.AppendInt(append(b, 'i'), v, 10)
		default:
			b = fmt.Appendf(append(b, 'v'), "%v", v)
		}
		b = append(b, 0)
	}
	return string(b)
}

// latestPerKey drops rows that a later row of the same key supersedes, so
// that one statement never updates a row twice (PostgreSQL refuses that).
func latestPerKey(t *Table, rows []Row) []Row {
	best := make(map[string]int, len(rows))
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		k := t.keyString(r)
		if i, ok := best[k]; ok {
			if r.Seq > out[i].Seq {
				out[i] = r
			}
			continue
		}
		best[k] = len(out)
		out = append(out, r)
	}
	return out
}

// chunks splits rows so that one statement binds at most maxParams.
func chunks(rows []Row, perRow, maxParams int) [][]Row {
	n := max(1, maxParams/perRow)
	var out [][]Row
	for len(rows) > n {
		out = append(out, rows[:n])
		rows = rows[n:]
	}
	return append(out, rows)
}

// OpenStore opens the database at url: sqlite://FILE (relative to dataDir;
// created, or tightened, to mode 0600) or postgres://...
func OpenStore(ctx context.Context, url, dataDir string, log *slog.Logger) (Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path, opts, _ := strings.Cut(strings.TrimPrefix(url, "sqlite://"), "?")
		if !filepath.IsAbs(path) {
			path = filepath.Join(dataDir, path)
		}
		busy := 5 * time.Second
		if v, ok := strings.CutPrefix(opts, "busy_timeout="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("sqlite busy_timeout: %w", err)
			}
			busy = d
		}
		if err := privateSQLite(path, log); err != nil {
			return nil, err
		}
		return OpenSQLite(path, busy)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(ctx, url)
	}
	return nil, fmt.Errorf("unsupported database URL (want sqlite:// or postgres://)")
}
