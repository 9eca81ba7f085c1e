package live

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// rampGrowth is the factor between offered rates of the ladder; every
// broker is offered the same ladder, so that they share rates to compare
// latencies at.
const rampGrowth = 1.5

// rampResult is a ramp of offered rates against one broker.
type rampResult struct {
	Steps []*liveStep `json:"steps"`
	// Best is the highest sustained step (nil when none was).
	Best *liveStep `json:"best,omitempty"`
	// Reconnects counts subscribers the broker refused or dropped while
	// they connected, each tried again a second later.
	Reconnects int `json:"reconnects,omitempty"`
}

// settleCPU waits until the broker is quiet (under 5% of a core for half
// a second, at most a minute), so that a workload does not pay for the
// previous one: the storm's 10,000 disconnects, for instance.
func settleCPU(ctx context.Context, pid int) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		c0, err := rig.ProcCPU(pid)
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		c1, err := rig.ProcCPU(pid)
		if err != nil {
			return err
		}
		if c1-c0 < 25*time.Millisecond {
			return nil
		}
	}
	return nil
}

// liveStep is a step as the benchmark judged it, with the CPU each side
// used during it.
type liveStep struct {
	stepResult
	Ladder    bool    `json:"ladder"` // a rate of the shared ladder, not a bisection
	Sustained bool    `json:"sustained"`
	Why       string  `json:"why,omitempty"` // why it was not sustained
	BrokerCPU float64 `json:"broker_cpu_cores"`
	ClientCPU float64 `json:"client_cpu_cores"`
}

// at returns the ladder step at rate, nil if the ramp did not reach it.
func (r *rampResult) at(rate float64) *liveStep {
	if r == nil {
		return nil
	}
	for _, s := range r.Steps {
		if s.Ladder && s.Rate == rate {
			return s
		}
	}
	return nil
}

// ramp loads the broker, offers the ladder's rates from start until one
// is not sustained or max is passed, then bisects twice between the last
// sustained rate and the first that was not.
func ramp(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, load liveReq, start, max float64) (*rampResult, error) {
	if err := settleCPU(ctx, b.pid); err != nil {
		return nil, err
	}
	resp, err := lc.call(load)
	if err != nil {
		return nil, err
	}
	defer lc.call(liveReq{Op: "unload"})
	r := &rampResult{Reconnects: resp.Retried}
	var failed float64
	for rate := start; rate <= max && ctx.Err() == nil; rate *= rampGrowth {
		s, err := runStep(ctx, env, o, lc, b, rate)
		if err != nil {
			return r, err
		}
		s.Ladder = true
		r.add(s)
		if !s.Sustained {
			failed = rate
			break
		}
	}
	if r.Best == nil || failed == 0 {
		return r, ctx.Err()
	}
	lo, hi := r.Best.Rate, failed
	for range 2 {
		mid := math.Sqrt(lo * hi)
		s, err := runStep(ctx, env, o, lc, b, mid)
		if err != nil {
			return r, err
		}
		r.add(s)
		if s.Sustained {
			lo = mid
		} else {
			hi = mid
		}
	}
	return r, ctx.Err()
}

func (r *rampResult) add(s *liveStep) {
	r.Steps = append(r.Steps, s)
	if s.Sustained && (r.Best == nil || s.Rate > r.Best.Rate) {
		r.Best = s
	}
}

// maxClientLagMS is how late the load generator may send a comment before
// the step says more about the load generator than about the broker.
const maxClientLagMS = 250

// runStep offers one rate and judges it, and offers it once more when the
// load generator itself fell behind (another process took the CPU).
func runStep(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, rate float64) (*liveStep, error) {
	s, err := runStepOnce(ctx, env, o, lc, b, rate)
	if err == nil && !s.Sustained && s.ClientLagMS > maxClientLagMS {
		return runStepOnce(ctx, env, o, lc, b, rate)
	}
	return s, err
}

func runStepOnce(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, rate float64) (*liveStep, error) {
	bc0, _ := rig.ProcCPU(b.pid)
	cc0, _ := rig.ProcCPU(lc.pid())
	t := time.Now()
	resp, err := lc.call(liveReq{Op: "step", Rate: rate, Size: o.size,
		WarmupMS: int(o.warmup / time.Millisecond), MeasureMS: int(o.measure / time.Millisecond)})
	if err != nil {
		return nil, err
	}
	took := time.Since(t).Seconds()
	bc1, _ := rig.ProcCPU(b.pid)
	cc1, _ := rig.ProcCPU(lc.pid())
	s := &liveStep{stepResult: *resp.Step, BrokerCPU: (bc1 - bc0).Seconds() / took, ClientCPU: (cc1 - cc0).Seconds() / took}
	s.judge(o.measure.Seconds())
	fmt.Fprintf(env.Stderr, "  %8s/s offered: %10s deliveries/s, p99 %s, broker %.2f + client %.2f cores %s\n",
		cmdio.Thousands(rate), cmdio.Thousands(s.DeliveredPerSec), cmdio.FmtMS(s.Latency.P99), s.BrokerCPU, s.ClientCPU, s.verdict())
	return s, nil
}

// Sustained means: every comment was sent at most 250ms late; deliveries
// kept up with rate x subscribers, either counted as they arrived inside
// the window (give or take one comment's deliveries at its edges) or as
// every comment sent inside the window having arrived with the backlog
// gone within 250ms of the last send (a stall at the window's edge moves
// arrivals out of it without a growing backlog); at most 0.5% was lost;
// and what was in flight when the sending stopped arrived within a
// second.
func (s *liveStep) judge(measure float64) {
	// One comment's deliveries more or fewer may fall inside the window.
	want := s.Rate * float64(s.Subscribers)
	switch {
	case s.Error != "":
		s.Why = s.Error
	case s.Subscribers == 0:
		s.Why = "no subscriber left"
	case s.ClientLagMS > maxClientLagMS:
		s.Why = fmt.Sprintf("the load generator sent %s late", cmdio.FmtMS(s.ClientLagMS))
	case s.DeliveredPerSec < 0.97*want-float64(s.Subscribers)/measure && !s.caughtUp():
		s.Why = fmt.Sprintf("deliveries fell behind (%.0f%% of offered x subscribers)", 100*s.DeliveredPerSec/want)
	case float64(s.Lost) > 0.005*float64(s.Expected):
		s.Why = fmt.Sprintf("%d of %d deliveries lost", s.Lost, s.Expected)
	case s.DrainMS > 1000:
		s.Why = fmt.Sprintf("backlog took %s to drain", cmdio.FmtMS(s.DrainMS))
	default:
		s.Sustained = true
	}
}

// caughtUp reports whether every comment sent inside the window reached
// every subscriber and the backlog drained within 250ms of the last send:
// a broker falling behind by 10% leaves 300ms of backlog after 3s.
func (s *liveStep) caughtUp() bool {
	return s.WindowExpected > 0 && s.WindowReceived >= s.WindowExpected && s.DrainMS <= 250
}

func (s *liveStep) verdict() string {
	if s.Sustained {
		return "sustained"
	}
	return "NOT sustained: " + s.Why
}
