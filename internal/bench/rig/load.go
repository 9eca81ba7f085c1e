package rig

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/loop"
)

// loadOp is one request of a load phase, made by worker w. It returns how
// many events the request carried. It is called concurrently.
type loadOp func(ctx context.Context, w int) (events int, err error)

// LoadSpec shapes a load phase. With rate 0 it is closed-loop: every
// worker sends its next request as soon as the previous one is answered.
// With a rate it is open-loop: requests are due at fixed intervals whatever
// the answers, and a request's latency runs from when it was due, so a
// slow server is charged for the requests it delayed (no coordinated
// omission). Requests due during warm-up are made but not recorded.
type LoadSpec struct {
	Workers         int
	Rate            float64 // requests per second; 0: closed loop
	Warmup, Measure time.Duration
}

// LoadResult is what a phase measured. Throughput counts the events whose
// request was answered within the measured window, whenever it was sent,
// so long requests straddling the warm-up are not lost; latency and errors
// count the requests due within the window, however late they finished.
type LoadResult struct {
	Events, Requests, Errors int64
	FirstErr                 error
	Window                   time.Duration // the measured time
	Lat                      Histogram
}

// EventsPerSec is the measured throughput.
func (r *LoadResult) EventsPerSec() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Events) / r.Window.Seconds()
}

// loadGrace bounds how long requests may run past the end of a phase.
const loadGrace = 30 * time.Second

// RunLoad runs op from spec.workers goroutines for warm-up plus measure.
func RunLoad(ctx context.Context, spec LoadSpec, op loadOp) *LoadResult {
	clk := newLoadClock(spec)
	ctx, cancel := context.WithDeadline(ctx, clk.end.Add(loadGrace))
	defer cancel()
	stats := make([]*LoadResult, spec.Workers)
	var wg sync.WaitGroup
	for w := range stats {
		stats[w] = new(LoadResult)
		wg.Go(func() { stats[w].run(ctx, w, clk, op) })
	}
	wg.Wait()
	r := &LoadResult{Window: spec.Measure}
	for _, s := range stats {
		r.Merge(s)
	}
	return r
}

// loadClock hands out the start times of requests.
type loadClock struct {
	start, t0, end time.Time
	interval       time.Duration // open loop: time between due requests
	slot           atomic.Int64
}

func newLoadClock(spec LoadSpec) *loadClock {
	now := time.Now()
	c := &loadClock{start: now, t0: now.Add(spec.Warmup), end: now.Add(spec.Warmup + spec.Measure)}
	if spec.Rate > 0 {
		c.interval = time.Duration(float64(time.Second) / spec.Rate)
	}
	return c
}

// next returns when the next request is due, or false when the phase is over.
func (c *loadClock) next() (time.Time, bool) {
	at := time.Now()
	if c.interval > 0 {
		at = c.start.Add(time.Duration(c.slot.Add(1)-1) * c.interval)
	}
	return at, at.Before(c.end)
}

func (c *loadClock) measured(t time.Time) bool { return !t.Before(c.t0) && !t.After(c.end) }

// run is one worker's loop; r is its own share of the result.
func (r *LoadResult) run(ctx context.Context, w int, clk *loadClock, op loadOp) {
	for ctx.Err() == nil {
		due, ok := clk.next()
		if !ok || !loop.SleepUntil(ctx, due) {
			return
		}
		n, err := op(ctx, w)
		done := time.Now()
		if err == nil && clk.measured(done) {
			r.Events += int64(n)
		}
		if !clk.measured(due) {
			continue
		}
		r.Requests++
		if err != nil {
			r.Errors++
			r.FirstErr = cmp.Or(r.FirstErr, err)
			continue
		}
		r.Lat.Record(done.Sub(due))
	}
}

func (r *LoadResult) Merge(o *LoadResult) {
	r.Events += o.Events
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.FirstErr = cmp.Or(r.FirstErr, o.FirstErr)
	r.Lat.Merge(&o.Lat)
}

// HTTPClient keeps up to conns keep-alive connections to one host, so
// that concurrent workers never wait for a connection or re-dial.
func HTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: loadGrace,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     2 * time.Minute,
			DisableCompression:  true,
		},
	}
}
