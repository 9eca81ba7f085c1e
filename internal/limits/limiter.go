package limits

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limiter decides requests against the limits in force. Safe for
// concurrent use; Check takes no lock when no limit matches.
//
// Precedence: every limit that matches a request counts it (its bucket
// gives a token, its concurrency a slot), except those named in the
// replaces of another matching limit. The request is refused when any
// enforcing limit has nothing to give; the refusal names the one whose
// wait is longest (ties: the most specific, then the name), so the
// smallest limit wins. Shadow limits never refuse; they count what they
// would have refused.
type Limiter struct {
	cur   atomic.Pointer[set]
	m     *metrics
	peers func() int
	smp   *sampler

	mu     sync.Mutex
	states map[string]*limitState
}

// NewLimiter returns a limiter with no limits. peers counts the live
// processes (for cluster-scoped limits; nil: 1). reg may be nil.
func NewLimiter(reg prometheus.Registerer, peers func() int) *Limiter {
	if peers == nil {
		peers = func() int { return 1 }
	}
	lm := &Limiter{m: newMetrics(reg), peers: peers, smp: newSampler(), states: map[string]*limitState{}}
	lm.cur.Store(newSet(nil))
	return lm
}

// Decision is the answer for one request. Call Done when the request ends
// (it frees concurrency slots).
type Decision struct {
	Refused    bool
	Limit      string        // the refusing limit
	RetryAfter time.Duration // when a token will be there (rate limits)
	held       []*keyState
}

// Done releases the concurrency slots the request held.
func (d *Decision) Done() {
	for _, k := range d.held {
		k.release()
	}
	d.held = nil
}

// NeedsIdentity reports whether a limit matches on the caller's client or
// key, so the HTTP middleware resolves the bearer key only then.
func (lm *Limiter) NeedsIdentity() bool { return lm.cur.Load().identity }

// Len is the number of limits in force.
func (lm *Limiter) Len() int { return len(lm.cur.Load().all) }

// Check decides r. now is passed in so that callers that have it share it.
func (lm *Limiter) Check(r *Request) Decision {
	now := time.Now()
	lm.smp.record(now, r)
	s := lm.cur.Load()
	if len(s.all) == 0 {
		return Decision{}
	}
	var buf [8]*limit
	ls := s.candidates(r, buf[:0])
	if len(ls) == 0 {
		return Decision{}
	}
	ls = dropReplaced(ls)
	var d Decision
	var refuser *limit
	for _, l := range ls {
		ok, wait, held := lm.count(l, r, now)
		if held != nil {
			d.held = append(d.held, held)
		}
		if ok {
			continue
		}
		if l.shadow {
			l.m().shadow.Inc()
			l.m().nShadow.Add(1)
			continue
		}
		l.m().limited.Inc()
		l.m().nLimited.Add(1)
		if refuser == nil || wait > d.RetryAfter || wait == d.RetryAfter && moreSpecific(l, refuser) {
			refuser, d.RetryAfter = l, wait
		}
	}
	if refuser != nil {
		d.Done()
		d.Refused, d.Limit = true, refuser.name
	}
	return d
}

func moreSpecific(a, b *limit) bool {
	if a.specificity != b.specificity {
		return a.specificity > b.specificity
	}
	return a.name < b.name
}

// count lets r through l or not; held is a concurrency slot taken.
func (lm *Limiter) count(l *limit, r *Request, now time.Time) (ok bool, wait time.Duration, held *keyState) {
	l.m().matched.Inc()
	l.m().nMatched.Add(1)
	if l.block {
		return false, blockWait(l, now), nil
	}
	n := 1
	if l.scope == ScopeCluster {
		n = lm.peers()
	}
	ks := l.state.state(l, r, now)
	if l.rate > 0 {
		rate, burst := l.amount(n)
		if ok, wait := ks.take(now, rate, burst); !ok {
			return false, wait, nil
		}
	}
	if l.conc > 0 && r.Method != MethodConnect && r.Method != MethodPublish {
		if !ks.acquire(l.concurrency(n)) {
			return false, time.Second, nil
		}
		return true, 0, ks
	}
	return true, 0, nil
}

// blockWait is the Retry-After of a block: until it expires, else a minute.
func blockWait(l *limit, now time.Time) time.Duration {
	if !l.expires.IsZero() && l.expires.Sub(now) < time.Hour {
		return max(l.expires.Sub(now), time.Second)
	}
	return time.Minute
}

// dropReplaced removes the limits another matching limit replaces.
func dropReplaced(ls []*limit) []*limit {
	var gone []string
	for _, l := range ls {
		gone = append(gone, l.replaces...)
	}
	if len(gone) == 0 {
		return ls
	}
	return slices.DeleteFunc(ls, func(l *limit) bool { return slices.Contains(gone, l.name) })
}

func (l *limit) m() *limitMetrics { return l.state.m }

// install makes ls the limits in force, keeping the counters of limits
// that stay (by name and per).
func (lm *Limiter) install(ls []*limit) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	keep := map[string]bool{}
	for _, l := range ls {
		st := lm.states[l.name]
		if st == nil || st.per != l.per {
			m := lm.m.forLimit(l.name)
			if st != nil {
				m = st.m
			}
			st = newLimitState(l.per, m)
			lm.states[l.name] = st
		}
		l.state = st
		keep[l.name] = true
	}
	for name := range lm.states {
		if !keep[name] {
			delete(lm.states, name)
			lm.m.forget(name)
		}
	}
	lm.cur.Store(newSet(ls))
	lm.m.configured.Set(float64(len(ls)))
	lm.m.changes.Inc()
}

// Counts are one limit's totals in this process.
type Counts struct {
	Matched       int64 `json:"matched"`
	Limited       int64 `json:"limited"`
	ShadowLimited int64 `json:"shadow_limited"`
}

// Counts returns every limit's totals in this process.
func (lm *Limiter) Counts() map[string]Counts {
	out := map[string]Counts{}
	for _, l := range lm.cur.Load().all {
		m := l.m()
		out[l.name] = Counts{Matched: m.nMatched.Load(), Limited: m.nLimited.Load(), ShadowLimited: m.nShadow.Load()}
	}
	return out
}

// Load puts specs (by name) in force, replacing what was: for benchmarks
// and tools that run a limiter without the bucket.
func (lm *Limiter) Load(specs map[string]Spec) error {
	var ls []*limit
	for _, name := range sortedNames(specs) {
		s, err := Normalize(specs[name], time.Now())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		l, err := compile(name, s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ls = append(ls, l)
	}
	lm.install(ls)
	return nil
}
