package delivery

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps the prepared upsert statement of each table and row
// count. A batch's statement binds thousands of parameters; parsing it
// again for every batch was a third of SQLite's write time. Sinks mostly
// write full batches, so a handful of row counts covers nearly every batch.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	table string
	rows  int
}

const maxCachedStmts = 32

// get returns a prepared upsert for n rows of t and the function to call
// once the statement is used. The caller binds it to its transaction with
// tx.StmtContext. It must be called outside a transaction: it needs the
// connection. Cached statements stay open; once the cache is full, a
// statement is prepared for this use only and released closes it, so a
// statement in use is never closed under a caller.
func (c *stmtCache) get(ctx context.Context, t *Table, n int) (*sql.Stmt, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := stmtKey{t.Name, n}
	if st, ok := c.stmts[k]; ok {
		return st, func() {}, nil
	}
	st, err := c.db.PrepareContext(ctx, upsertSQL(t, n, "?"))
	if err != nil {
		return nil, nil, err
	}
	if len(c.stmts) >= maxCachedStmts {
		return st, func() { st.Close() }, nil
	}
	if c.stmts == nil {
		c.stmts = map[stmtKey]*sql.Stmt{}
	}
	c.stmts[k] = st
	return st, func() {}, nil
}

// close releases every statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, s := range c.stmts {
		s.Close()
		delete(c.stmts, k)
	}
}
