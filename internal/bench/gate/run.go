package gate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/gate"
)

// decisions runs the closed-loop decisions phase.
func (r *gateRig) decisions(ctx context.Context, env cmdio.Env, o gateBenchOptions, rep *gateReport) error {
	var next, accepted, rejected atomic.Int64
	gates := []string{"g1", "g2", "g3", "g4"}
	op := func(ctx context.Context, w int) (int, error) {
		i := next.Add(1)
		res, err := r.scan(ctx, r.codes[int(i)%len(r.codes)], gates[w%len(gates)])
		if err != nil {
			return 0, err
		}
		if res.Decision == gate.Accept {
			accepted.Add(1)
		} else {
			rejected.Add(1)
		}
		return 1, nil
	}
	if !o.linked {
		if err := r.cut(ctx); err != nil {
			return err
		}
	}
	stop := cmdio.ShowProgress(env.Stderr, "decisions", o.warmup+o.duration)
	res := rig.RunLoad(ctx, rig.LoadSpec{Workers: o.clients, Warmup: o.warmup, Measure: o.duration}, op)
	stop()
	r.proxy.Heal()
	if res.FirstErr != nil && res.Events == 0 {
		return fmt.Errorf("decisions: %w", res.FirstErr)
	}
	lat := res.Lat.Summary()
	rep.Decisions = gateDecisions{
		Clients: o.clients, Linked: o.linked, PerSec: res.EventsPerSec(), Latency: lat,
		Accepted: accepted.Load(), Rejected: rejected.Load(), Errors: res.Errors,
		TargetMet: res.EventsPerSec() >= 5000 && lat.P99 <= 20,
	}
	return nil
}

// catchUp cuts the link, scans fresh tickets at the edge, heals the link
// and times how long the cloud takes to have them all.
func (r *gateRig) catchUp(ctx context.Context, env cmdio.Env, o gateBenchOptions) (*gateCatchUp, error) {
	codes, err := r.issue(ctx, env, o.catchup)
	if err != nil {
		return nil, err
	}
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	before, err := r.venue(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.cut(ctx); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := r.scanAll(ctx, env, codes, o.clients); err != nil {
		return nil, err
	}
	cut := time.Since(t0)
	r.proxy.Heal()
	healed := time.Now()
	want := before.Received + uint64(len(codes))
	var stored, viewed float64
	for stored == 0 || viewed == 0 {
		v, err := r.venue(ctx)
		if err == nil && v.Received >= want && stored == 0 {
			stored = time.Since(healed).Seconds()
		}
		if err == nil && v.Scans >= want && viewed == 0 {
			viewed = time.Since(healed).Seconds()
		}
		if time.Since(healed) > 10*time.Minute {
			return nil, fmt.Errorf("catch-up: the cloud has %d of %d scans after 10 minutes", v.Received, want)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return &gateCatchUp{Scans: len(codes), CutScanS: cut.Seconds(), Seconds: stored, ViewS: viewed, TargetMet: stored <= 30}, nil
}

func (r *gateRig) cut(ctx context.Context) error {
	r.proxy.Cut()
	return r.waitEdge(ctx, "the edge to see the cut", func(s gate.EdgeStatus) bool { return s.Link == "down" })
}

// settle waits until the cloud's view has every scan the edge made so far.
func (r *gateRig) settle(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		s, err1 := r.edgeStatus(ctx)
		v, err2 := r.venue(ctx)
		if err1 == nil && err2 == nil && v.Scans >= s.Scans {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the cloud did not catch up with the edge in 10 minutes")
}

func (r *gateRig) scanAll(ctx context.Context, env cmdio.Env, codes []string, clients int) error {
	bar := cmdio.NewProgress(env.Stderr, "scanning while cut", len(codes))
	defer bar.Done()
	var next, done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(codes) {
					return
				}
				if _, err := r.scan(ctx, codes[i], "g1"); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if n := done.Add(1); n%1000 == 0 {
					mu.Lock()
					bar.Set(int(n))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	bar.Set(len(codes))
	return firstErr
}
