package exchange

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/loop"
)

// exchangePhase is one load the exchange benchmark applies.
type exchangePhase struct {
	key, name, title string
	spec             rig.LoadSpec
	op               func(r *exchangeRig, ctx context.Context, w int) (int, error)
}

// exchangePhases are the (a)-(d), the latency phase (e) and its
// reference on raw JetStream (f), and the HTTP floor (g): the most HTTP
// requests per second the server answers with no handler work, which
// bounds b/a from above.
func exchangePhases(o exchangeOptions) []exchangePhase {
	n := o.publishers
	closed := rig.LoadSpec{Workers: n, Warmup: o.warmup, Measure: o.duration}
	open := rig.LoadSpec{Workers: openLoopWorkers(o), Rate: o.rate, Warmup: o.warmup, Measure: o.duration}
	return []exchangePhase{
		{"a", "raw-publish", fmt.Sprintf("raw JetStream publish+ack, %d publishers", n), closed, (*exchangeRig).rawPublish},
		{"b", "http-single", fmt.Sprintf("HTTP single event, %d clients", n), closed, (*exchangeRig).httpSingle},
		{"c", "http-batch", fmt.Sprintf("HTTP batch of %d, %d clients", o.batch, n), closed, (*exchangeRig).httpBatch},
		{"d", "raw-async", fmt.Sprintf("raw JetStream async, %d x %d in flight", n, o.batch), closed, (*exchangeRig).rawAsync},
		{"e", "http-single-rate", fmt.Sprintf("HTTP single event, %g/s offered", o.rate), open, (*exchangeRig).httpSingle},
		{"f", "raw-publish-rate", fmt.Sprintf("raw JetStream publish+ack, %g/s offered", o.rate), open, (*exchangeRig).rawPublish},
		{"g", "http-floor", fmt.Sprintf("HTTP GET /healthz (the floor), %d clients", n), closed, (*exchangeRig).httpFloor},
	}
}

// openLoopWorkers keep up with the offered rate at 10 ms per request, or
// more: a late request is charged its lateness, never dropped.
func openLoopWorkers(o exchangeOptions) int {
	return max(o.publishers, int(o.rate/100)+1)
}

// idleSettle is how long a fresh server idles before its RSS is read.
const idleSettle = 500 * time.Millisecond

// benchExchangeMode starts a server with the given durability, runs every
// phase against it and stops it.
func benchExchangeMode(ctx context.Context, env cmdio.Env, o exchangeOptions, fx *exchangeFixture, d config.Durability) (*exchangeMode, error) {
	tmp, err := os.MkdirTemp("", "stadion-bench-exchange-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cfg, err := writeBenchConfig(filepath.Join(tmp, "config"), d)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stderr, "durability %s: starting %s up\n", d, o.bin)
	prof, err := newProfiler(o.profile)
	if err != nil {
		return nil, err
	}
	args := append([]string{"--config", cfg, "--log-level", "warn"}, prof.serverArgs()...)
	srv, err := rig.StartChild(ctx, o.bin, filepath.Join(tmp, "data"), args...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := srv.Stop(20 * time.Second); err != nil {
			fmt.Fprintf(env.Stderr, "warning: %v\n", err)
		}
	}()
	return measureMode(ctx, env, o, fx, d, srv, prof)
}

func measureMode(ctx context.Context, env cmdio.Env, o exchangeOptions, fx *exchangeFixture, d config.Durability, srv *rig.Child, prof *profiler) (*exchangeMode, error) {
	m := &exchangeMode{Durability: string(d), ColdStartMS: rig.MS(srv.ColdStart)}
	if !loop.SleepUntil(ctx, time.Now().Add(idleSettle)) {
		return nil, ctx.Err()
	}
	m.IdleRSS, _ = srv.Rss() // 0 (shown n/a) where there is no /proc
	rig, err := newExchangeRig(ctx, srv, fx, max(o.publishers, openLoopWorkers(o)))
	if err != nil {
		return nil, err
	}
	defer rig.close()
	for _, ph := range exchangePhases(o) {
		profiled := prof.during(ctx, string(d)+"-"+ph.key, ph.spec.Warmup, ph.spec.Measure)
		pr, err := rig.runPhase(ctx, env, srv, string(d), ph)
		if perr := profiled(); err == nil && perr != nil {
			fmt.Fprintf(env.Stderr, "warning: %v\n", perr)
		}
		if err != nil {
			return nil, err
		}
		m.Phases = append(m.Phases, pr)
	}
	m.PeakRSS, _ = srv.PeakRSS()
	m.Checks = exchangeChecks(o, m)
	return m, nil
}

// runPhase applies one phase to an empty stream and measures it, with the
// CPU the server and this process used meanwhile.
func (r *exchangeRig) runPhase(ctx context.Context, env cmdio.Env, srv *rig.Child, mode string, ph exchangePhase) (phaseResult, error) {
	if err := r.purge(ctx); err != nil {
		return phaseResult{}, err
	}
	srvCPU, _ := srv.Cpu()
	selfCPU, _ := rig.ProcCPU(os.Getpid())
	start := time.Now()
	stop := cmdio.ShowProgress(env.Stderr, fmt.Sprintf("%s (%s) %s", mode, ph.key, ph.title), ph.spec.Warmup+ph.spec.Measure)
	res := rig.RunLoad(ctx, ph.spec, func(ctx context.Context, w int) (int, error) { return ph.op(r, ctx, w) })
	stop()
	if err := ctx.Err(); err != nil {
		return phaseResult{}, err
	}
	if res.Errors > 0 && res.Errors == res.Requests {
		return phaseResult{}, fmt.Errorf("phase (%s) %s: no request succeeded: %v", ph.key, ph.title, res.FirstErr)
	}
	pr := newPhaseResult(ph, res)
	wall := time.Since(start).Seconds()
	if now, err := srv.Cpu(); err == nil && pr.EventsPerSec > 0 {
		pr.ServerCPU = (now - srvCPU).Seconds() / wall
		pr.CPUPerEvent = pr.ServerCPU / pr.EventsPerSec * 1e6
	}
	if now, err := rig.ProcCPU(os.Getpid()); err == nil {
		pr.BenchCPU = (now - selfCPU).Seconds() / wall
	}
	fmt.Fprintf(env.Stderr, "  %s events/s, p50 %s, p99 %s, %d errors\n", cmdio.Thousands(pr.EventsPerSec), pr.lat(pr.Latency.P50), pr.lat(pr.Latency.P99), pr.Errors)
	return pr, nil
}

func newPhaseResult(ph exchangePhase, res *rig.LoadResult) phaseResult {
	pr := phaseResult{
		Key: ph.key, Name: ph.name, Title: ph.title, Workers: ph.spec.Workers, OfferedRate: ph.spec.Rate,
		Events: res.Events, Requests: res.Requests, Errors: res.Errors,
		Seconds: res.Window.Seconds(), EventsPerSec: res.EventsPerSec(), Latency: res.Lat.Summary(),
	}
	if res.FirstErr != nil {
		pr.FirstError = res.FirstErr.Error()
	}
	return pr
}
