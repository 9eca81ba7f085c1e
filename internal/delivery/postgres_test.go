package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stadion-dev/stadion/internal/config"
)

func TestPostgresStore(t *testing.T) {
	base := postgresURL(t)
	runStoreSuite(t, storeHarness{
		open: func(t *testing.T) (Store, storeDB) {
			u := freshSchema(t, base)
			return openTestPostgres(t, u), pgDB{openTestPool(t, u)}
		},
		blocked: func(t *testing.T) Store {
			port, err := freePort() // nothing listens there
			if err != nil {
				t.Fatal(err)
			}
			return openTestPostgres(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", port))
		},
	})
}

func openTestPostgres(t *testing.T, u string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTestPool(t *testing.T, u string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

type pgDB struct{ pool *pgxpool.Pool }

func (d pgDB) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := d.pool.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d pgDB) rows(t *testing.T, tbl *Table) map[string]map[string]any {
	t.Helper()
	var cols []string
	for _, c := range tbl.Columns {
		cols = append(cols, c.Name)
	}
	rs, err := d.pool.Query(context.Background(), fmt.Sprintf("SELECT %s, _seq FROM %s", strings.Join(cols, ", "), tbl.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]map[string]any{}
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := map[string]any{"_seq": vals[len(cols)]}
		var key []string
		for i, c := range tbl.Columns {
			row[c.Name] = pgCanonical(c.Type, vals[i])
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

func pgCanonical(typ config.ColumnType, v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case map[string]any, []any:
		if typ == config.TypeJSON {
			raw, _ := json.Marshal(x)
			return string(raw)
		}
	}
	return v
}
