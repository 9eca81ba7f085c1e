package deadletter

import (
	"context"
	"errors"
)

// Result says what a redrive did.
type Result struct {
	Redriven int       `json:"redriven"`
	Failed   []Failure `json:"failed"`
}

// Failure is a dead letter whose target still refused it; it stays.
type Failure struct {
	ID    uint64 `json:"id"`
	Error string `json:"error"`
}

// errKeep marks a target's refusal of one letter (see Keep).
type errKeep struct{ err error }

func (e errKeep) Error() string { return e.err.Error() }
func (e errKeep) Unwrap() error { return e.err }

// Keep wraps an error of a redrive target that concerns one letter only
// (the database still rejects that row): the letter stays, is listed in
// Result.Failed, and the redrive goes on. Any other error ends it.
func Keep(err error) error { return errKeep{err} }

// Redrive hands owner's dead letters (the given ids, or all) to to, in
// order, and deletes each one to accepted. A letter is counted as
// redriven by the one caller whose delete removed it, so two redrives of
// the same letters at once (two operators, two replicas) count each once;
// to must therefore be idempotent per letter (the exchange publishes with
// the letter's id as Nats-Msg-Id, a sink upserts). A crash between to and
// the delete leaves the letter in place, and the next redrive hands it
// over again, which the idempotent target absorbs.
func (s *Store) Redrive(ctx context.Context, owner string, ids []uint64, to func(context.Context, Entry) error) (Result, error) {
	res := Result{Failed: []Failure{}}
	var after uint64
	for {
		es, err := s.nextToRedrive(ctx, owner, ids, &after)
		if err != nil || len(es) == 0 {
			return res, err
		}
		for _, e := range es {
			if err := to(ctx, e); err != nil {
				var keep errKeep
				if errors.As(err, &keep) {
					res.Failed = append(res.Failed, Failure{ID: e.ID, Error: keep.err.Error()})
					continue
				}
				return res, err
			}
			n, err := s.remove(ctx, owner, []uint64{e.ID})
			if err != nil {
				return res, err
			}
			res.Redriven += n
			s.m.redriven.Add(float64(n))
		}
	}
}

// nextToRedrive pages through all dead letters, or takes the listed ones once.
func (s *Store) nextToRedrive(ctx context.Context, owner string, ids []uint64, after *uint64) ([]Entry, error) {
	if len(ids) > 0 {
		if *after > 0 {
			return nil, nil
		}
		*after = 1
		return s.Get(ctx, owner, ids)
	}
	es, err := s.List(ctx, owner, *after, 100)
	if len(es) > 0 {
		*after = es[len(es)-1].ID
	}
	return es, err
}
