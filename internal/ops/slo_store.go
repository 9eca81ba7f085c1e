package ops

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The SLO counts every replica shares: per SLO, good/total per bucket of
// slo_policy.resolution (for windows up to a day) and per hour (for the
// rest, up to the 30-day window), one KV entry per bucket,
// <slo>.<bucket start unix>. A replica adds its deltas with a
// compare-and-set, and mirrors both buckets through watchers.
const (
	SLOFineBucket  = "ops_slo_fine"
	SLOHoursBucket = "ops_slo_hours"
)

// series is one SLO's mirrored buckets.
type sloSeries struct {
	fine, hours map[int64]Counts
}

type sloStore struct {
	fine, hours jetstream.KeyValue
	res         time.Duration

	mu  sync.Mutex
	all map[string]*sloSeries
}

func openSLOStore(ctx context.Context, js jetstream.JetStream, res, fineKeep, hoursKeep time.Duration, replicas int) (*sloStore, error) {
	mk := func(name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: 1, TTL: ttl, MaxBytes: 256 << 20, MaxValueSize: 256,
			Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
		})
	}
	fine, err := mk(SLOFineBucket, "stadion SLO counts per resolution bucket", fineKeep)
	if err != nil {
		return nil, err
	}
	hours, err := mk(SLOHoursBucket, "stadion SLO counts per hour", hoursKeep)
	if err != nil {
		return nil, err
	}
	return &sloStore{fine: fine, hours: hours, res: res, all: map[string]*sloSeries{}}, nil
}

func (s *sloStore) series(name string) *sloSeries {
	sr := s.all[name]
	if sr == nil {
		sr = &sloSeries{fine: map[int64]Counts{}, hours: map[int64]Counts{}}
		s.all[name] = sr
	}
	return sr
}

// add stores a delta for the bucket holding t, in both granularities.
func (s *sloStore) add(ctx context.Context, name string, t time.Time, d Counts) error {
	fine := t.Truncate(s.res).Unix()
	hour := t.Truncate(time.Hour).Unix()
	f, err := casAdd(ctx, s.fine, name+"."+strconv.FormatInt(fine, 10), d)
	if err != nil {
		return err
	}
	s.set(name, fine, f, true)
	h, err := casAdd(ctx, s.hours, name+"."+strconv.FormatInt(hour, 10), d)
	if err != nil {
		// The fine bucket has the delta; the hour's misses it (the long
		// windows under-count by it) rather than double-count on retry.
		return nil
	}
	s.set(name, hour, h, false)
	return nil
}

// set mirrors a value this replica wrote, at once (its watcher confirms).
func (s *sloStore) set(name string, start int64, c Counts, fine bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series(name)
	if fine {
		sr.fine[start] = c
	} else {
		sr.hours[start] = c
	}
}

// casAdd adds d to the counts under key: read, add, write if unchanged;
// retried when another replica wrote in between. It returns the sum
// written.
func casAdd(ctx context.Context, kv jetstream.KeyValue, key string, d Counts) (Counts, error) {
	var err error
	for range 8 {
		var e jetstream.KeyValueEntry
		e, err = kv.Get(ctx, key)
		var cur Counts
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			raw, _ := json.Marshal(d)
			if _, err = kv.Create(ctx, key, raw); err == nil {
				return d, nil
			}
		case err != nil:
			return Counts{}, err
		default:
			_ = json.Unmarshal(e.Value(), &cur)
			sum := cur.Add(d)
			raw, _ := json.Marshal(sum)
			if _, err = kv.Update(ctx, key, raw, e.Revision()); err == nil {
				return sum, nil
			}
		}
		if ctx.Err() != nil {
			return Counts{}, err
		}
	}
	return Counts{}, err
}

// watch mirrors both buckets until ctx ends; ready is closed once both
// have delivered their current entries.
func (s *sloStore) watch(ctx context.Context, ready chan<- struct{}) error {
	var wg sync.WaitGroup
	for _, b := range []struct {
		kv   jetstream.KeyValue
		fine bool
	}{{s.fine, true}, {s.hours, false}} {
		w, err := b.kv.WatchAll(ctx)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer w.Stop()
			initial := true
			for e := range w.Updates() {
				if e == nil {
					if initial {
						initial = false
						wg.Done()
					}
					continue
				}
				s.apply(e, b.fine)
			}
		}()
	}
	go func() { wg.Wait(); close(ready) }()
	return nil
}

func (s *sloStore) apply(e jetstream.KeyValueEntry, fine bool) {
	name, ts, ok := strings.Cut(e.Key(), ".")
	start, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series(name)
	m := sr.hours
	if fine {
		m = sr.fine
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(m, start)
		return
	}
	var c Counts
	if json.Unmarshal(e.Value(), &c) == nil {
		m[start] = c
	}
}

// sum is an SLO's counts over the window ending at now: from the fine
// buckets when the window is at most fineMax, else from hourly ones. The
// bucket the window's start falls in is counted whole.
func (s *sloStore) sum(name string, now time.Time, window, fineMax time.Duration) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.all[name]
	if sr == nil {
		return Counts{}
	}
	m, step := sr.hours, time.Hour
	if window <= fineMax {
		m, step = sr.fine, s.res
	}
	from := now.Add(-window).Truncate(step).Unix()
	var c Counts
	for start, v := range m {
		if start >= from {
			c = c.Add(v)
		}
	}
	return c
}

// prune forgets mirrored buckets older than the kept spans.
func (s *sloStore) prune(now time.Time, fineKeep, hoursKeep time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, h := now.Add(-fineKeep).Unix(), now.Add(-hoursKeep).Unix()
	for _, sr := range s.all {
		for k := range sr.fine {
			if k < f {
				delete(sr.fine, k)
			}
		}
		for k := range sr.hours {
			if k < h {
				delete(sr.hours, k)
			}
		}
	}
}
