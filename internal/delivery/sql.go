package delivery

import (
	"fmt"
	"strings"
	"sync"
)

// sqlCache keeps the upsert statements' text by table and row count, so
// that a batch does not format thousands of placeholders again. Bounded:
// it starts over when it holds sqlCacheMax statements.
type sqlCache struct {
	mu sync.Mutex
	m  map[sqlKey]string
}

type sqlKey struct {
	t *Table
	n int
}

const sqlCacheMax = 64

func (c *sqlCache) get(t *Table, n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := sqlKey{t, n}
	if q, ok := c.m[k]; ok {
		return q
	}
	if c.m == nil || len(c.m) >= sqlCacheMax {
		c.m = map[sqlKey]string{}
	}
	q := upsertSQL(t, n, "$")
	c.m[k] = q
	return q
}

// upsertSQL is the multi-row upsert both backends run; placeholder is "?"
// (SQLite) or "$" (PostgreSQL, numbered). The WHERE clause keeps a newer
// row when an older event is delivered again.
func upsertSQL(t *Table, n int, placeholder string) string {
	var b strings.Builder
	cols := make([]string, 0, len(t.Columns)+2)
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	cols = append(cols, "_seq", "_updated")
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", t.Name, strings.Join(cols, ", "))
	p := 0
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			p++
			if placeholder == "$" {
				fmt.Fprintf(&b, "$%d", p)
			} else {
				b.WriteString("?")
			}
		}
		b.WriteByte(')')
	}
	fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET ", strings.Join(t.Key, ", "))
	set := make([]string, 0, len(cols))
	for _, c := range cols {
		set = append(set, c+" = excluded."+c)
	}
	b.WriteString(strings.Join(set, ", "))
	fmt.Fprintf(&b, " WHERE excluded._seq > %s._seq", t.Name)
	return b.String()
}
