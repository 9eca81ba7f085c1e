package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/ops"
)

// healthCost is what health scoring costs a server with n checks
// evaluated every interval and a history of minutes per-minute samples
// already in the engine: it runs the real ops.Health on an embedded engine
// (history streams, followers, per-minute records), and measures the
// first evaluation of a minute (which also computes each check's
// day-high from the history and records the minute) and the cached ones
// after it. Per minute a server does one of the first and
// 60s/interval − 1 of the others; the share of one core is that CPU over
// a minute. heap is what the service holds (mostly the history rings).
type healthCostResult struct {
	Checks       int     `json:"checks"`
	Interval     string  `json:"interval"`
	History      int     `json:"history_minutes"`
	FirstMS      float64 `json:"first_of_minute_ms"`
	NextMS       float64 `json:"cached_ms"`
	CPUShare     float64 `json:"cpu_share"`
	HeapMiB      float64 `json:"heap_mib"`
	Evaluations  int     `json:"evaluations"`
	ReportScore  float64 `json:"score"`
	ReportGrade  string  `json:"grade"`
	ReportRisks  int     `json:"risks"`
	ChecksScored int     `json:"checks_scored"`
}

func healthCost(ctx context.Context, n, minutes int, interval time.Duration) (*healthCostResult, error) {
	dir, err := os.MkdirTemp("", "stadion-bench-ops-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.Start(ctx, engine.Options{DataDir: dir, ClientAddr: "127.0.0.1:0", MaxMemory: 64 << 20, MaxDisk: 1 << 30, Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("bench ops: embedded engine: %w", err)
	}
	defer eng.Stop(context.Background())

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	checks := benchHealthChecks(n, 0)
	src := ops.SourceFunc(func(context.Context) []ops.Check { return checks })
	h := ops.NewHealth(ops.HealthOptions{
		Config: config.Health{Interval: config.Duration(interval), AlertBelow: "C"}, JS: eng.JS,
		Sources: []ops.Source{src}, Alerter: discardAlerter{}, Logger: quiet,
	})
	// Start evaluates once and every interval; the measured evaluations
	// below are serialised with it.
	if err := h.Start(ctx); err != nil {
		return nil, err
	}
	defer h.Stop(context.Background())
	now := time.Now()
	for m := minutes; m >= 1; m-- {
		if err := h.History().Record(ctx, now.Add(-time.Duration(m)*time.Minute), benchHealthChecks(n, m)); err != nil {
			return nil, fmt.Errorf("bench ops: writing history: %w", err)
		}
	}
	// Wait for the followers to have applied the recent minutes (they
	// are applied in order).
	deadline := time.Now().Add(2 * time.Minute)
	for minutes >= 5 && h.History().Past(time.Now(), checks[len(checks)-1]).Projected == nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench ops: the history followers did not catch up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The first evaluation of the next minute computes the day-highs
	// (those of this minute may have been computed before the history
	// was in).
	if minutes > 0 {
		select {
		case <-time.After(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute))):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var rep ops.Report
	first := cpuOf(func() { rep = h.Evaluate(ctx) })
	const k = 10
	rest := cpuOf(func() {
		for range k {
			rep = h.Evaluate(ctx)
		}
	}) / k
	perMinute := first + time.Duration(max(60/interval.Seconds()-1, 0)*float64(rest))
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(h)
	return &healthCostResult{
		Checks: n, Interval: interval.String(), History: minutes,
		FirstMS: float64(first) / 1e6, NextMS: float64(rest) / 1e6,
		CPUShare:    perMinute.Seconds() / 60,
		HeapMiB:     float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc)) / (1 << 20),
		Evaluations: k + 1, ReportScore: rep.Score, ReportGrade: rep.Grade, ReportRisks: len(rep.Risks),
		ChecksScored: countChecks(rep),
	}, nil
}

// benchHealthChecks are n checks over n/5 components of 5 sites, a tenth
// of them past their warning level, their values drifting with the
// minute m (minutes ago) so that trends and day-highs are not constant.
func benchHealthChecks(n, m int) []ops.Check {
	cs := make([]ops.Check, n)
	for i := range cs {
		v := 0.5 + 0.1*math.Sin(float64(i+m)/30)
		if i%10 == 0 {
			v = 0.85 - float64(m)/1e4
		}
		cs[i] = ops.Check{
			Site: fmt.Sprintf("site-%d", i%5), Component: fmt.Sprintf("sink/s%d", i/5), Name: fmt.Sprintf("c%d", i%5),
			Value: v, Warn: 0.7, Crit: 0.9, Weight: 1,
		}
	}
	return cs
}

func countChecks(r ops.Report) int {
	n := 0
	for _, s := range r.Sites {
		for _, c := range s.Components {
			n += len(c.Checks)
		}
	}
	return n
}
