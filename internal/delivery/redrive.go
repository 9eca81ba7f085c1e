package delivery

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoSink means no sink has the name asked for.
var ErrNoSink = errors.New("no such sink")

func (s *Service) sink(name string) (*sink, error) {
	sk, ok := s.sinks[name]
	if !ok || sk.dlq == nil {
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
	return sk.dlq.list(ctx, after, limit)
}

// DeleteDeadLetters deletes the given dead letters, or all when ids is empty.
func (s *Service) DeleteDeadLetters(ctx context.Context, name string, ids []uint64) (int, error) {
	sk, err := s.sink(name)
	if err != nil {
		return 0, err
	}
	return sk.dlq.remove(ctx, ids)
}

// RedriveResult says what a redrive did.
type RedriveResult struct {
	Redriven int              `json:"redriven"`
	Failed   []RedriveFailure `json:"failed"`
}

// RedriveFailure is a dead letter the database still rejects; it stays.
type RedriveFailure struct {
	ID    uint64 `json:"id"`
	Error string `json:"error"`
}

// Redrive writes dead letters (the given IDs, or all) into the sink's
// table again, with their original sequence, and deletes each one that is
// written. Writing through the sink, rather than publishing the event to
// the topic again, keeps the ordering rule (a newer row is never replaced
// by an older event) and does not show the event twice to the topic's
// other subscribers.
func (s *Service) Redrive(ctx context.Context, name string, ids []uint64) (RedriveResult, error) {
	sk, err := s.sink(name)
	if err != nil {
		return RedriveResult{}, err
	}
	res := RedriveResult{Failed: []RedriveFailure{}}
	var after uint64
	for {
		dls, err := sk.nextToRedrive(ctx, ids, &after)
		if err != nil || len(dls) == 0 {
			return res, err
		}
		for _, dl := range dls {
			if err := sk.redriveOne(ctx, dl); err != nil {
				res.Failed = append(res.Failed, RedriveFailure{ID: dl.ID, Error: err.Error()})
				continue
			}
			res.Redriven++
		}
	}
}

// nextToRedrive pages through all dead letters, or takes the listed ones once.
func (sk *sink) nextToRedrive(ctx context.Context, ids []uint64, after *uint64) ([]DeadLetter, error) {
	if len(ids) > 0 {
		if *after > 0 {
			return nil, nil
		}
		*after = 1
		return sk.dlq.get(ctx, ids)
	}
	dls, err := sk.dlq.list(ctx, *after, 100)
	if len(dls) > 0 {
		*after = dls[len(dls)-1].ID
	}
	return dls, err
}

func (sk *sink) redriveOne(ctx context.Context, dl DeadLetter) error {
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
	_, err = sk.dlq.remove(ctx, []uint64{dl.ID})
	return err
}
