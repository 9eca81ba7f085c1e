package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/loop"
)

// StateBucket is the KV bucket holding each sink's shared state.
const StateBucket = "stadion-sinks"

// Status is a sink as GET /v1/sinks shows it. RowsWritten, RowsPerSec and
// the last error are this process's; Lag and DeadLetters are the engine's
// and so cover every replica.
type Status struct {
	Name        string     `json:"name"`
	Topic       string     `json:"topic"`
	Database    string     `json:"database"`
	Table       string     `json:"table"`
	State       string     `json:"state"` // running or paused
	RowsPerSec  float64    `json:"rows_per_sec"`
	Lag         uint64     `json:"lag"` // events not yet written (pending + in flight)
	RowsWritten uint64     `json:"rows_written"`
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
	st.Lag = info.NumPending + uint64(info.NumAckPending)
	sk.m.lag.Set(float64(info.NumPending))
	dl, err := sk.dls.Stats(ctx, sk.name)
	st.DeadLetters, st.deadLetters = dl.Count, dl
	return st, err
}

// Names returns the configured sinks, sorted.
func (s *Service) Names() []string { return s.cfg.SinkNames() }
