package deadletter

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/stadion-dev/stadion/internal/loop"
)

// Schedule is stadion's one retry schedule: when a failed attempt is tried
// again and when the event is given up (and dead-lettered). Subscriptions
// and webhooks use a list of steps (their `retry.schedule`), sinks an
// exponential wait with jitter (and `max_attempts` for rows the database
// rejects).
type Schedule struct {
	// Steps are the waits after failed attempt 1, 2, ...; the last one
	// repeats. Without steps the wait is exponential: Min after the first
	// failure, doubling up to Max.
	Steps    []time.Duration
	Min, Max time.Duration
	// Jitter draws each wait from [d/2, d], so that callers failing
	// together do not retry together.
	Jitter bool
	// MaxAttempts is how many attempts are made before giving up; 0 never
	// gives up.
	MaxAttempts int
}

// Exponential is the schedule of transient failures: min doubling to max,
// with jitter, never giving up.
func Exponential(min, max time.Duration) Schedule {
	return Schedule{Min: min, Max: max, Jitter: true}
}

// Delay is the wait after failed attempt n (1-based).
func (s Schedule) Delay(attempt int) time.Duration {
	attempt = max(attempt, 1)
	var d time.Duration
	if len(s.Steps) > 0 {
		d = s.Steps[min(attempt, len(s.Steps))-1]
	} else {
		d = s.Min
		for i := 1; i < attempt && d < s.Max; i++ {
			d *= 2
		}
		d = min(d, s.Max)
	}
	if s.Jitter && d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// GiveUp says whether failed attempt n was the last.
func (s Schedule) GiveUp(attempt int) bool {
	return s.MaxAttempts > 0 && attempt >= s.MaxAttempts
}

// EngineBackOff is the schedule as a JetStream consumer's BackOff: entry
// n-1 is the ack timeout of delivery n, that is work (the time a worker
// has to settle it) plus the wait after it fails; the engine repeats the
// last entry. It has at most MaxAttempts entries (the engine allows no more
// than MaxDeliver).
func (s Schedule) EngineBackOff(work time.Duration) []time.Duration {
	n := len(s.Steps)
	if s.MaxAttempts > 0 {
		n = min(n, s.MaxAttempts)
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = work + s.Steps[i]
	}
	return out
}

// Backoff walks a schedule: each Wait sleeps the next delay.
type Backoff struct {
	s Schedule
	n int
}

// Backoff starts a walk of the schedule.
func (s Schedule) Backoff() *Backoff { return &Backoff{s: s} }

// Reset starts the walk again (after a success).
func (b *Backoff) Reset() { b.n = 0 }

// Wait sleeps the next delay or until ctx ends; it reports whether the
// whole delay passed.
func (b *Backoff) Wait(ctx context.Context) bool {
	b.n++
	return loop.Sleep(ctx, b.s.Delay(b.n))
}
