package limits

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The sample of recent traffic a dry run replays: per second, the number
// of requests and the first samplePerSecond of them, for the last
// sampleSeconds. Memory is bounded: 300 × 64 requests whose strings are
// cut to 256 bytes.
const (
	sampleSeconds   = 300
	samplePerSecond = 64
	sampleStrLen    = 256
)

type sampler struct {
	slots [sampleSeconds]sampleSlot
}

type sampleSlot struct {
	mu    sync.Mutex
	sec   int64
	total int64
	reqs  []Request
}

func newSampler() *sampler { return &sampler{} }

func (s *sampler) record(now time.Time, r *Request) {
	sec := now.Unix()
	sl := &s.slots[sec%sampleSeconds]
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.sec != sec {
		sl.sec, sl.total, sl.reqs = sec, 0, sl.reqs[:0]
	}
	sl.total++
	if len(sl.reqs) < samplePerSecond {
		c := *r
		// copies, cut: a cut string would pin a 64 KiB header
		c.UserAgent, c.Path, c.Venue, c.MQTTUser = cut(c.UserAgent), cut(c.Path), cut(c.Venue), cut(c.MQTTUser)
		sl.reqs = append(sl.reqs, c)
	}
}

func cut(s string) string {
	if len(s) > sampleStrLen {
		s = s[:sampleStrLen]
	}
	return strings.Clone(s)
}

// second is one second of the sample.
type second struct {
	sec    int64
	weight float64 // requests per sampled request
	reqs   []Request
}

// seconds returns the sampled seconds within window before now, oldest
// first (copies: recording goes on).
func (s *sampler) seconds(now time.Time, window time.Duration) []second {
	from := now.Add(-window).Unix()
	var out []second
	for i := range s.slots {
		sl := &s.slots[i]
		sl.mu.Lock()
		if sl.sec > from && sl.sec <= now.Unix() && len(sl.reqs) > 0 {
			out = append(out, second{sec: sl.sec, weight: float64(sl.total) / float64(len(sl.reqs)), reqs: slices.Clone(sl.reqs)})
		}
		sl.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b second) int { return int(a.sec - b.sec) })
	return out
}

// Estimate is what one limit would have done to the sampled traffic.
type Estimate struct {
	Matched float64 `json:"matched"`
	// Refused counts what its rate would have refused (for a shadow
	// limit: counted); a concurrency cap cannot be estimated from a
	// sample of arrivals and is left out (Concurrency says so).
	Refused     float64 `json:"refused"`
	Concurrency bool    `json:"concurrency_not_estimated,omitempty"`
}

// EstimateAll replays the sampled traffic of the last window through
// specs (by name) in fresh buckets, as if they alone were in force, and
// returns per limit how many requests matched and would have been refused.
// Each process replays its own sample; the caller sums the processes'.
func (lm *Limiter) EstimateAll(specs map[string]Spec, window time.Duration) (map[string]Estimate, int64, error) {
	var ls []*limit
	for name, sp := range specs {
		l, err := compile(name, sp)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, err)
		}
		l.state = newLimitState(l.per, nil)
		ls = append(ls, l)
	}
	s := newSet(ls)
	n := lm.peers()
	type bk struct {
		l *limit
		k perKey
	}
	tokens := map[bk]float64{}
	last := map[bk]int64{}
	out := map[string]Estimate{}
	var seen int64
	for _, sec := range lm.smp.seconds(time.Now(), window) {
		counts := map[bk]float64{}
		for i := range sec.reqs {
			r := &sec.reqs[i]
			seen++
			for _, l := range dropReplaced(s.candidates(r, nil)) {
				counts[bk{l, keyOf(l.per, r)}] += sec.weight
			}
		}
		for b, c := range counts {
			e := out[b.l.name]
			e.Matched += c
			rate, burst := b.l.amount(n)
			switch {
			case b.l.block:
				e.Refused += c
			case b.l.rate > 0:
				// tokens at the second's start, plus what it refills
				t, ok := tokens[b]
				if !ok {
					t = burst
				} else {
					t = min(burst, t+rate*float64(sec.sec-last[b]-1))
				}
				avail := t + rate
				allowed := min(c, avail)
				e.Refused += c - allowed
				tokens[b], last[b] = min(burst, avail-allowed), sec.sec
			}
			e.Concurrency = b.l.conc > 0
			out[b.l.name] = e
		}
	}
	for name := range specs {
		if _, ok := out[name]; !ok {
			out[name] = Estimate{}
		}
	}
	return out, seen, nil
}
