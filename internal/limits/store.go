package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

// Bucket is the KV bucket the limits live in, one entry per limit.
const Bucket = "stadion-limits"

// Record is a stored limit: its spec and who set it.
type Record struct {
	Name string `json:"name"`
	Spec
	// Plan names the plan that set it ("" for a limit set on its own).
	Plan    string    `json:"plan,omitempty"`
	By      string    `json:"by,omitempty"` // client and key id of who set it
	Updated time.Time `json:"updated"`
}

// Errors a caller handles.
var (
	ErrNotFound = errors.New("no such limit")
	ErrTooMany  = fmt.Errorf("there are %d limits already; delete some first", MaxLimits)
)

type entry struct {
	rec Record
	rev uint64
	l   *limit
}

// follow applies the bucket's current entries, then its changes in the
// background until the watch ends.
func (s *Service) follow(ctx context.Context) (<-chan struct{}, error) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("limits: watch: %w", err)
	}
	return loop.Follow(ctx, w, func(e jetstream.KeyValueEntry, initial bool) {
		s.apply(e)
		if !initial {
			s.nudge()
		}
	})
}

func (s *Service) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		// a local put of a newer revision may already be here
		if old, ok := s.recs[e.Key()]; ok && old.rev < e.Revision() {
			delete(s.recs, e.Key())
		}
		return
	}
	if old, ok := s.recs[e.Key()]; ok && old.rev >= e.Revision() {
		return
	}
	var rec Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		s.log.Warn("limits: skipping unreadable limit", "limit", e.Key(), "err", err)
		return
	}
	l, err := compile(e.Key(), rec.Spec)
	if err != nil {
		s.log.Warn("limits: skipping limit that does not compile", "limit", e.Key(), "err", err)
		return
	}
	rec.Name = e.Key()
	s.recs[e.Key()] = entry{rec: rec, rev: e.Revision(), l: l}
}

// nudge asks the install loop to rebuild the index.
func (s *Service) nudge() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// installLoop rebuilds the index after changes, and when a limit expires
// it drops it here and deletes it from the bucket (every process tries;
// the revision check makes a limit set again in between survive).
func (s *Service) installLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
			s.install(ctx)
		case <-t.C:
			if s.expiredAny(time.Now()) {
				s.install(ctx)
			}
		}
	}
}

func (s *Service) expiredAny(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.nextExpiry.IsZero() && !now.Before(s.nextExpiry)
}

// install puts the live, unexpired limits in force.
func (s *Service) install(ctx context.Context) {
	s.installMu.Lock() // one install at a time, or an older one could land last
	defer s.installMu.Unlock()
	now := time.Now()
	s.mu.Lock()
	var ls []*limit
	var expired []entry
	s.nextExpiry = time.Time{}
	for _, e := range s.recs {
		if !e.l.expires.IsZero() {
			if !now.Before(e.l.expires) {
				expired = append(expired, e)
				continue
			}
			if s.nextExpiry.IsZero() || e.l.expires.Before(s.nextExpiry) {
				s.nextExpiry = e.l.expires
			}
		}
		ls = append(ls, e.l)
	}
	for _, e := range expired {
		delete(s.recs, e.rec.Name)
	}
	s.mu.Unlock()
	slices.SortFunc(ls, func(a, b *limit) int { return cmpString(a.name, b.name) })
	s.lm.install(ls)
	for _, e := range expired {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.kv.Delete(dctx, e.rec.Name, jetstream.LastRevision(e.rev))
		cancel()
		if err == nil {
			s.log.Info("limits: expired", "limit", e.rec.Name)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Set stores limit name (created or replaced). by says who.
func (s *Service) Set(ctx context.Context, name string, spec Spec, by string) (Record, bool, error) {
	if !ValidName(name) {
		return Record{}, false, bad("name", "%q: a limit's name is 1-64 lower-case letters, digits, '-' or '_'", name)
	}
	return s.put(ctx, name, spec, "", by)
}

func (s *Service) put(ctx context.Context, name string, spec Spec, plan, by string) (Record, bool, error) {
	spec, err := Normalize(spec, time.Now())
	if err != nil {
		return Record{}, false, err
	}
	s.mu.Lock()
	_, exists := s.recs[name]
	n := len(s.recs)
	s.mu.Unlock()
	if !exists && n >= MaxLimits {
		return Record{}, false, ErrTooMany
	}
	rec := Record{Name: name, Spec: spec, Plan: plan, By: by, Updated: time.Now().UTC().Truncate(time.Millisecond)}
	raw, _ := json.Marshal(rec)
	rev, err := s.kv.Put(ctx, name, raw)
	if err != nil {
		return Record{}, false, fmt.Errorf("limits: store %s: %w", name, err)
	}
	l, _ := compile(name, spec)
	s.mu.Lock()
	if old, ok := s.recs[name]; !ok || old.rev < rev {
		s.recs[name] = entry{rec: rec, rev: rev, l: l}
	}
	s.mu.Unlock()
	s.install(ctx)
	return rec, !exists, nil
}

// Delete removes limit name everywhere.
func (s *Service) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	_, ok := s.recs[name]
	s.mu.Unlock()
	if !ok {
		// set on another replica a moment ago, perhaps: ask the bucket
		if !validStored(name) {
			return ErrNotFound
		}
		if _, err := s.kv.Get(ctx, name); errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("limits: read %s: %w", name, err)
		}
	}
	if err := s.kv.Delete(ctx, name); err != nil {
		return fmt.Errorf("limits: delete %s: %w", name, err)
	}
	s.forget(name)
	s.install(ctx)
	return nil
}

// forget drops a deleted limit from this process's copy at once (the
// watch brings the same news later).
func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.recs, name)
	s.mu.Unlock()
}

// Get returns limit name.
func (s *Service) Get(name string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.recs[name]
	return e.rec, ok
}

// List returns every limit, by name.
func (s *Service) List() []Record {
	s.mu.Lock()
	out := make([]Record, 0, len(s.recs))
	for _, e := range s.recs {
		out = append(out, e.rec)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int { return cmpString(a.Name, b.Name) })
	return out
}
