package ops

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stadion-dev/stadion/internal/config"
)

// recorder is an Alerter that remembers what it was told.
type recorder struct {
	mu       sync.Mutex
	fired    []Alert
	resolved []string
}

func (r *recorder) Fire(a Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fired = append(r.fired, a)
}

func (r *recorder) Resolve(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resolved = append(r.resolved, id)
}

var _ Alerter = (*recorder)(nil)

// TestHealthAlertsFireOnceAndResolve checks that a component dropping
// below the configured grade fires one located alert for it and one for
// its site, that staying down fires nothing more, and that recovery
// resolves both; the gauges follow.
func TestHealthAlertsFireOnceAndResolve(t *testing.T) {
	eng := startEngine(t)
	var broken atomic.Bool
	src := SourceFunc(func(context.Context) []Check {
		return []Check{
			State(SiteCloud, "sink/results-db", "db_errors", broken.Load(), "database results: disk full"),
			{Site: SiteCloud, Component: "engine", Name: "disk_used", Value: 0.1, Warn: 0.7, Crit: 0.9},
		}
	})
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	h := NewHealth(HealthOptions{
		Config: config.Health{Interval: config.Duration(10 * time.Minute), AlertBelow: "C"},
		JS:     eng.JS, Sources: []Source{src}, Alerter: rec, Reg: reg, Logger: quiet(),
	})
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx)
	if len(rec.fired) != 0 {
		t.Fatalf("healthy start fired %+v", rec.fired)
	}
	broken.Store(true)
	rep := h.Evaluate(ctx)
	h.Evaluate(ctx) // still broken: nothing new
	if len(rec.fired) != 2 {
		t.Fatalf("fired %d alerts, want the component's and the site's: %+v", len(rec.fired), rec.fired)
	}
	byID := map[string]Alert{}
	for _, a := range rec.fired {
		byID[a.ID] = a
	}
	a, ok := byID["health/cloud/sink/results-db"]
	if !ok || a.Kind != "health" || a.Site != "cloud" || a.Component != "sink/results-db" || a.Check != "db_errors" || a.Severity != "page" {
		t.Errorf("component alert %+v", a)
	}
	if s := byID["health/cloud"]; s.Component != "sink/results-db" || s.Check != "db_errors" {
		t.Errorf("site alert not located: %+v", s)
	}
	if len(rep.Alerts) != 2 {
		t.Errorf("report lists %d alerts", len(rep.Alerts))
	}
	if got := testutil.ToFloat64(h.m.component.WithLabelValues("cloud", "sink/results-db")); got != 0 {
		t.Errorf("component gauge %g, want 0 (its one check fails)", got)
	}

	broken.Store(false)
	rep = h.Evaluate(ctx)
	if len(rec.resolved) != 2 || len(rep.Alerts) != 0 {
		t.Errorf("resolved %v, still firing %+v", rec.resolved, rep.Alerts)
	}
	if got := testutil.ToFloat64(h.m.site.WithLabelValues("cloud")); got != 100 {
		t.Errorf("site gauge %g, want 100", got)
	}
}

// TestHealthWithoutAlerter lists alerts in the report with no Alerter.
func TestHealthWithoutAlerter(t *testing.T) {
	eng := startEngine(t)
	src := SourceFunc(func(context.Context) []Check {
		return []Check{State("venue-1", "gate/venue-1", "link_down", true, "")}
	})
	h := NewHealth(HealthOptions{Config: config.Health{Interval: config.Duration(time.Hour), AlertBelow: "C"}, JS: eng.JS, Sources: []Source{src}, Logger: quiet()})
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	if rep := h.Last(); len(rep.Alerts) != 2 || rep.Alerts[0].Site != "venue-1" {
		t.Errorf("alerts %+v", rep.Alerts)
	}
}

// TestGaugesForgetGoneComponents removes a component between evaluations:
// its gauge goes, the others stay.
func TestGaugesForgetGoneComponents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newHealthMetrics(reg)
	both := Evaluate(time.Now(), []Check{{Component: "sink/a", Name: "lag"}, {Component: "sink/b", Name: "lag"}}, config.Health{}, nil)
	m.observe(both, 0)
	if n := testutil.CollectAndCount(m.component); n != 2 {
		t.Fatalf("%d component series, want 2", n)
	}
	m.observe(Evaluate(time.Now(), []Check{{Component: "sink/b", Name: "lag"}}, config.Health{}, nil), 0)
	if n := testutil.CollectAndCount(m.component); n != 1 {
		t.Errorf("%d component series after sink/a went, want 1", n)
	}
	if n := testutil.CollectAndCount(m.site); n != 1 {
		t.Errorf("%d site series, want 1", n)
	}
}
