package limits

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// keyState is one bucket and one in-flight count: of a limit, or of one
// value of a per limit.
type keyState struct {
	mu       sync.Mutex
	tokens   float64
	last     time.Time
	inFlight int
}

// take takes a token from a bucket of rate tokens/s holding at most burst;
// without one it returns how long until there is one.
func (k *keyState) take(now time.Time, rate, burst float64) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.last.IsZero() {
		k.tokens = burst
	} else if dt := now.Sub(k.last).Seconds(); dt > 0 {
		k.tokens = min(burst, k.tokens+dt*rate)
	}
	k.last = now
	if k.tokens >= 1 {
		k.tokens--
		return true, 0
	}
	return false, time.Duration((1 - k.tokens) / rate * float64(time.Second))
}

// acquire takes one of n slots.
func (k *keyState) acquire(n int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inFlight >= n {
		return false
	}
	k.inFlight++
	return true
}

func (k *keyState) release() {
	k.mu.Lock()
	k.inFlight--
	k.mu.Unlock()
}

// idle reports whether forgetting k changes nothing: its bucket is full
// again and nothing is in flight.
func (k *keyState) idle(now time.Time, rate, burst float64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.inFlight == 0 && (rate == 0 || k.tokens+now.Sub(k.last).Seconds()*rate >= burst)
}

// perKey is what picks the bucket of a per limit.
type perKey struct {
	s string
	a netip.Addr
}

// limitState is the counters of one limit in this process. It outlives
// changes of the limit's spec (a changed rate keeps the buckets).
type limitState struct {
	per  per
	one  keyState // per == perAll
	mu   sync.Mutex
	keys map[perKey]*keyState
	// overflow is shared by the values that arrive when keys is full and
	// no idle one can be forgotten: they are limited together.
	overflow keyState
	swept    time.Time // the last sweep of idle values
	m        *limitMetrics
}

func newLimitState(p per, m *limitMetrics) *limitState {
	return &limitState{per: p, keys: map[perKey]*keyState{}, m: m}
}

// state returns the bucket for r.
func (ls *limitState) state(l *limit, r *Request, now time.Time) *keyState {
	if ls.per == perAll {
		return &ls.one
	}
	k := keyOf(ls.per, r)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if st := ls.keys[k]; st != nil {
		return st
	}
	if len(ls.keys) >= maxPerKeys {
		// forget idle values, at most once a second: a client that makes
		// up a new value with every request must not buy a sweep each
		if now.Sub(ls.swept) >= time.Second {
			ls.swept = now
			rate, burst := l.amount(1)
			for key, st := range ls.keys {
				if st.idle(now, rate, burst) {
					delete(ls.keys, key)
				}
			}
		}
		if len(ls.keys) >= maxPerKeys {
			ls.m.overflow.Inc()
			return &ls.overflow
		}
	}
	st := &keyState{}
	k.s = strings.Clone(k.s) // a copy: k.s may be a cut of a 64 KiB header
	ls.keys[k] = st
	return st
}

func keyOf(p per, r *Request) perKey {
	switch p {
	case perClient:
		return perKey{s: r.Client}
	case perKeyID:
		return perKey{s: r.KeyID}
	case perUserAgent:
		ua := r.UserAgent
		if len(ua) > maxUserAgentLen {
			ua = ua[:maxUserAgentLen]
		}
		return perKey{s: ua}
	case perSource:
		return perKey{a: r.Source}
	case perUser:
		return perKey{s: r.MQTTUser}
	case perVenue:
		return perKey{s: r.Venue}
	}
	return perKey{}
}

// amount is the rate and burst (and concurrency) of one process when n
// processes share a cluster-scoped limit.
func (l *limit) amount(n int) (rate, burst float64) {
	if l.scope != ScopeCluster || n <= 1 {
		return l.rate, l.burst
	}
	return l.rate / float64(n), max(1, l.burst/float64(n))
}

func (l *limit) concurrency(n int) int {
	if l.scope != ScopeCluster || n <= 1 {
		return l.conc
	}
	return max(1, l.conc/n)
}
