package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/loop"
)

// StateBucket is the KV bucket holding each sink's shared state.
const StateBucket = "stadion-sinks"

// Status is a sink as GET /v1/sinks shows it. RowsWritten, RowsPerSec and
// the last error are this process's since it started; Lag and DeadLetters
// are the engine's and so cover every replica; Rows is what the table holds
// (counted at most every rowsEvery; absent when the database does not
// answer within rowsWait).
type Status struct {
	Name        string     `json:"name"`
	Topic       string     `json:"topic"`
	Database    string     `json:"database"`
	Table       string     `json:"table"`
	State       string     `json:"state"` // running or paused
	RowsPerSec  float64    `json:"rows_per_sec"`
	Lag         uint64     `json:"lag"` // events not yet written (pending + in flight)
	RowsWritten uint64     `json:"rows_written"`
	Rows        *uint64    `json:"rows,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	DeadLetters uint64     `json:"dead_letters"`
	// deadLetters is the dead-letter store's view (the oldest letter's
	// time for the health check), not part of the answer.
	deadLetters deadletter.Stats
}

type sharedState struct {
	Paused bool      `json:"paused"`
	At     time.Time `json:"at"`
}

// followState keeps every sink's paused flag in step with the bucket, so
// a pause on one replica pauses all of them.
func (s *Service) followState(ctx context.Context) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("delivery: watching %s: %w", StateBucket, err)
	}
	done, err := loop.Follow(ctx, w, func(e jetstream.KeyValueEntry, _ bool) { s.applyState(e) })
	if err != nil {
		return fmt.Errorf("delivery: watching %s: %w", StateBucket, err)
	}
	s.wg.Go(func() {
		<-done
		_ = w.Stop()
	})
	return nil
}

func (s *Service) applyState(e jetstream.KeyValueEntry) {
	sk, ok := s.sinks[e.Key()]
	if !ok {
		return
	}
	var st sharedState
	if e.Operation() == jetstream.KeyValuePut {
		_ = json.Unmarshal(e.Value(), &st)
	}
	sk.st.setPaused(st.Paused)
}

// SetPaused pauses or resumes a sink on every replica.
func (s *Service) SetPaused(ctx context.Context, name string, paused bool) error {
	sk, ok := s.sinks[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSink, name)
	}
	raw, _ := json.Marshal(sharedState{Paused: paused, At: time.Now().UTC()})
	if _, err := s.kv.Put(ctx, name, raw); err != nil {
		return err
	}
	sk.st.setPaused(paused)
	return nil
}

// Status reports one sink.
func (s *Service) Status(ctx context.Context, name string) (Status, error) {
	sk, ok := s.sinks[name]
	if !ok {
		return Status{}, fmt.Errorf("%w: %q", ErrNoSink, name)
	}
	st := Status{Name: name, Topic: sk.cfg.Topic, Database: sk.cfg.Database, Table: sk.table.Name}
	sk.st.snapshot(&st)
	if sk.cons == nil {
		return st, nil
	}
	info, err := sk.cons.Info(ctx)
	if err != nil {
		return st, err
	}
	st.Rows = sk.rows.get(ctx, sk.store, sk.table, st.RowsWritten)
	st.Lag = info.NumPending + uint64(info.NumAckPending)
	sk.m.lag.Set(float64(info.NumPending))
	dl, err := sk.dls.Stats(ctx, sk.name)
	st.DeadLetters, st.deadLetters = dl.Count, dl
	return st, err
}

// Names returns the configured sinks, sorted.
func (s *Service) Names() []string { return s.cfg.SinkNames() }

// A table's rows are counted for Status (a count reads the whole table,
// and on SQLite holds the one connection the sink writes through): again
// once this process has written since the last count, but no sooner than
// ten times as long as the last count took, so counting takes at most a
// tenth of the database's time; otherwise at most every rowsEvery (for
// other replicas' writes). rowsWait bounds one count.
const (
	rowsEvery = 2 * time.Second
	rowsWait  = 2 * time.Second
)

// rowCount caches a table's row count.
type rowCount struct {
	mu      sync.Mutex
	at      time.Time
	took    time.Duration
	written uint64 // the process's rows written at the last count
	n       *uint64
}

func (c *rowCount) get(ctx context.Context, store Store, t *Table, written uint64) *uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	age := time.Since(c.at)
	fresh := age < rowsEvery && (written == c.written || age < 10*c.took)
	if !c.at.IsZero() && fresh {
		return c.n
	}
	ctx, cancel := context.WithTimeout(ctx, rowsWait)
	defer cancel()
	start := time.Now()
	n, err := store.Count(ctx, t)
	c.at, c.took, c.written, c.n = time.Now(), time.Since(start), written, nil
	if err == nil {
		c.n = &n
	}
	return c.n
}
