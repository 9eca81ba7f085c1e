package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/stadion-dev/stadion/internal/deadletter"
)

// ErrNoSink means no sink has the name asked for.
var ErrNoSink = errors.New("no such sink")

func (s *Service) sink(name string) (*sink, error) {
	sk, ok := s.sinks[name]
	if !ok || !sk.dlqOpen {
		return nil, fmt.Errorf("%w: %q", ErrNoSink, name)
	}
	return sk, nil
}

// DeadLetters lists up to limit dead letters of a sink with IDs above after.
func (s *Service) DeadLetters(ctx context.Context, name string, after uint64, limit int) ([]DeadLetter, error) {
	sk, err := s.sink(name)
	if err != nil {
		return nil, err
	}
	es, err := sk.dls.List(ctx, name, after, limit)
	if err != nil {
		return nil, err
	}
	return deadletter.Decode(es, withID)
}

// DeleteDeadLetters deletes the given dead letters, or all when ids is empty.
func (s *Service) DeleteDeadLetters(ctx context.Context, name string, ids []uint64) (int, error) {
	sk, err := s.sink(name)
	if err != nil {
		return 0, err
	}
	return sk.dls.Remove(ctx, name, ids)
}

// RedriveResult says what a redrive did; a RedriveFailure is a dead letter
// the database still rejects, which stays.
type (
	RedriveResult  = deadletter.Result
	RedriveFailure = deadletter.Failure
)

// Redrive writes dead letters (the given IDs, or all) into the sink's
// table again, with their original sequence, and deletes each one that is
// written. Writing through the sink, rather than publishing the event to
// the topic again, keeps the ordering rule (a newer row is never replaced
// by an older event) and does not show the event twice to the topic's
// other subscribers; the upsert makes a repeated redrive harmless.
func (s *Service) Redrive(ctx context.Context, name string, ids []uint64) (RedriveResult, error) {
	sk, err := s.sink(name)
	if err != nil {
		return RedriveResult{}, err
	}
	return sk.dls.Redrive(ctx, name, ids, func(ctx context.Context, e deadletter.Entry) error {
		if err := sk.redriveOne(ctx, e); err != nil {
			return deadletter.Keep(err)
		}
		return nil
	})
}

func (sk *sink) redriveOne(ctx context.Context, e deadletter.Entry) error {
	dl, err := deadletter.DecodeOne(e, withID)
	if err != nil {
		return err
	}
	row, err := sk.mapper.row(dl.Event, dl.Seq)
	if err != nil {
		return err
	}
	if err := sk.limiter.WaitN(ctx, 1); err != nil {
		return err
	}
	if err := sk.store.Upsert(ctx, sk.table, []Row{row}); err != nil {
		return err
	}
	sk.m.rows.Inc()
	sk.st.wrote(1)
	return nil
}
