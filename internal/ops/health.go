package ops

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

// maxChecks bounds the checks of one evaluation: sources beyond it are cut
// and the cut is itself a check.
const maxChecks = 5000

// sourceTimeout bounds one source's Checks call.
const sourceTimeout = 5 * time.Second

// Health evaluates every source's checks each interval, scores them,
// records their history in the engine, exports the scores as gauges and
// raises health alerts. Every replica runs one.
type Health struct {
	cfg     config.Health
	sources []Source
	hist    *History
	alerter Alerter // nil: alerts are only listed in the report
	m       *healthMetrics
	log     *slog.Logger

	evalMu sync.Mutex // one evaluation at a time: sources are not called concurrently
	mu     sync.Mutex
	last   Report
	firing map[string]Alert

	stop chan struct{}
	wg   sync.WaitGroup
}

// HealthOptions build a Health.
type HealthOptions struct {
	Config  config.Health
	JS      jetstream.JetStream
	Sources []Source
	Alerter Alerter // optional
	Reg     prometheus.Registerer
	Logger  *slog.Logger
}

// NewHealth builds the health service; Start opens its history.
func NewHealth(o HealthOptions) *Health {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Health{
		cfg: o.Config, sources: o.Sources, alerter: o.Alerter, m: newHealthMetrics(o.Reg),
		log: o.Logger.With("service", "health"), firing: map[string]Alert{}, stop: make(chan struct{}),
		hist: &History{js: o.JS},
	}
}

// Start opens the history streams, evaluates once and then every interval.
func (h *Health) Start(ctx context.Context) error {
	hist, err := OpenHistory(ctx, h.hist.js, h.log)
	if err != nil {
		return err
	}
	h.hist = hist
	h.Evaluate(ctx)
	h.wg.Add(1)
	go h.loop()
	return nil
}

// Stop ends the loop and the history's followers.
func (h *Health) Stop(ctx context.Context) error {
	close(h.stop)
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("health: stopping: %w", ctx.Err())
	}
	h.hist.Stop()
	return nil
}

func (h *Health) loop() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Interval.D()+sourceTimeout)
			h.Evaluate(ctx)
			cancel()
		}
	}
}

// Evaluate gathers the checks, scores them and acts on the result.
func (h *Health) Evaluate(ctx context.Context) Report {
	h.evalMu.Lock()
	defer h.evalMu.Unlock()
	start := time.Now()
	checks := h.gather(ctx)
	now := time.Now()
	rep := Evaluate(now, checks, h.cfg, func(c Check) Past { return h.hist.Past(now, c) })
	if err := h.hist.Record(ctx, now, checks); err != nil {
		h.log.Warn("health: recording history", "err", err)
	}
	h.m.observe(rep, time.Since(start))
	h.mu.Lock()
	rep.Alerts = h.alerts(rep)
	h.last = rep
	h.mu.Unlock()
	return rep
}

// Last is the latest evaluation.
func (h *Health) Last() Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// freshEvery is how often GET /v1/health?fresh=1 may evaluate; more often,
// it answers the last evaluation.
const freshEvery = time.Second

// Fresh evaluates now unless the last evaluation is under freshEvery old.
func (h *Health) Fresh(ctx context.Context) Report {
	if last := h.Last(); time.Since(last.At) < freshEvery {
		return last
	}
	return h.Evaluate(ctx)
}

// History is the service's history (for the inspection).
func (h *Health) History() *History { return h.hist }

func (h *Health) gather(ctx context.Context) []Check {
	var out []Check
	for _, s := range h.sources {
		sctx, cancel := context.WithTimeout(ctx, sourceTimeout)
		cs := s.Checks(sctx)
		cancel()
		if len(out)+len(cs) > maxChecks {
			h.m.dropped.Add(float64(len(out) + len(cs) - maxChecks))
			cs = cs[:maxChecks-len(out)]
		}
		out = append(out, cs...)
	}
	return out
}
