package ops

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

// SLOs samples every configured SLO's indicator from this process's
// Prometheus registry each slo_policy.interval, adds the deltas to the
// counts all replicas share in the engine, and evaluates burn rates and
// budgets from them, firing and resolving alerts. Every replica
// evaluates; the alert store makes each transition happen once.
type SLOs struct {
	cfg     *config.Config
	gather  prometheus.Gatherer
	alerter Alerter
	store   *sloStore
	log     *slog.Logger
	m       *sloMetrics
	now     func() time.Time

	defs     []*sloDef
	fineMax  time.Duration // windows up to this are summed from fine buckets
	fineKeep time.Duration
	hourKeep time.Duration

	mu     sync.Mutex
	status []SLOStatus
}

// sloDef is one configured SLO with its source and what this replica has
// read of it so far.
type sloDef struct {
	name      string
	cfg       *config.SLO
	src       sloSource
	component string
	last      Counts // cumulative sources: the previous read
	pending   map[int64]Counts
	clear     map[string]int // alert id → evaluations in a row without the condition
}

// Budget is one SLO's error budget over its window, for the inspection.
type Budget struct {
	Name      string        `json:"name"`
	Objective float64       `json:"objective"`
	Window    time.Duration `json:"window"`
	Remaining float64       `json:"remaining"` // 1 untouched, 0 spent, below 0 overspent
	Events    float64       `json:"events"`
	Component string        `json:"component"`
	Site      string        `json:"site"`
}

// SLOStatus is one SLO as GET /v1/slos shows it.
type SLOStatus struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Indicator   string      `json:"indicator"`
	Component   string      `json:"component"`
	Site        string      `json:"site"`
	Objective   float64     `json:"objective"`
	Window      string      `json:"window"`
	Events      Counts      `json:"events"`
	SLI         *float64    `json:"sli"` // good/total over the window; null without events
	Budget      float64     `json:"budget_remaining"`
	Exhausted   bool        `json:"budget_exhausted"`
	Burns       []TierState `json:"burns"`
	Firing      []string    `json:"firing,omitempty"` // severities firing
}

const maxPendingBuckets = 256

// NewSLOs builds the SLO evaluator. js may be nil in benchmarks (counts
// stay in memory).
func NewSLOs(ctx context.Context, cfg *config.Config, js jetstream.JetStream, gather prometheus.Gatherer, alerter Alerter, reg prometheus.Registerer, log *slog.Logger) (*SLOs, error) {
	s := &SLOs{cfg: cfg, gather: gather, alerter: alerter, log: log, m: newSLOMetrics(reg), now: time.Now}
	p := cfg.SLOPolicy
	var longest time.Duration
	for _, b := range p.Burns {
		for _, w := range []time.Duration{b.Long.D(), b.Short.D()} {
			if w <= 24*time.Hour {
				s.fineMax = max(s.fineMax, w)
			}
		}
		longest = max(longest, b.Long.D())
	}
	for _, name := range sloSortedNames(cfg.SLOs) {
		c := cfg.SLOs[name]
		src, comp, err := newSource(c.Indicator)
		if err != nil {
			return nil, fmt.Errorf("slos.%s.indicator: %w", name, err)
		}
		if c.Component != "" {
			comp = c.Component
		}
		s.defs = append(s.defs, &sloDef{name: name, cfg: c, src: src, component: comp, pending: map[int64]Counts{}, clear: map[string]int{}})
		longest = max(longest, c.Window.D())
	}
	s.fineKeep = s.fineMax + 2*p.Resolution.D()
	s.hourKeep = longest + 2*time.Hour
	if js != nil {
		st, err := openSLOStore(ctx, js, p.Resolution.D(), s.fineKeep+time.Hour, s.hourKeep, 1)
		if err != nil {
			return nil, fmt.Errorf("slo counts: %w", err)
		}
		s.store = st
	} else {
		s.store = &sloStore{res: p.Resolution.D(), all: map[string]*sloSeries{}}
	}
	return s, nil
}

func sloSortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Run samples and evaluates every interval until ctx ends.
func (s *SLOs) Run(ctx context.Context) {
	if len(s.defs) == 0 {
		return
	}
	if s.store.fine != nil {
		ready := make(chan struct{})
		if err := s.store.watch(ctx, ready); err != nil {
			s.log.Error("slos: cannot watch the shared counts", "err", err)
			return
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return
		}
	}
	t := time.NewTicker(s.cfg.SLOPolicy.Interval.D())
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick samples, stores and evaluates once.
func (s *SLOs) Tick(ctx context.Context) {
	now := s.now()
	s.sample(now)
	s.flush(ctx)
	s.evaluate(now)
}

// sample reads every SLO's source and keeps its delta as pending.
func (s *SLOs) sample(now time.Time) {
	fams, err := s.gather.Gather()
	if err != nil && len(fams) == 0 {
		s.log.Warn("slos: cannot read the metrics registry", "err", err)
		return
	}
	byName := make(metricFamilies, len(fams))
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	bucket := now.Truncate(s.store.res).Unix()
	for _, d := range s.defs {
		cur := d.src.read(byName)
		delta := cur
		if d.src.cumulative() {
			delta = Counts{Good: cur.Good - d.last.Good, Total: cur.Total - d.last.Total}
			if delta.Good < 0 || delta.Total < 0 { // the registry was reset
				delta = cur
			}
			d.last = cur
		}
		if delta.Total == 0 && delta.Good == 0 {
			continue
		}
		if len(d.pending) >= maxPendingBuckets {
			s.m.dropped.WithLabelValues(d.name).Inc()
			continue
		}
		d.pending[bucket] = d.pending[bucket].Add(delta)
	}
}

// flush adds the pending deltas to the shared counts; what fails stays
// pending for the next tick.
func (s *SLOs) flush(ctx context.Context) {
	for _, d := range s.defs {
		for start, c := range d.pending {
			t := time.Unix(start, 0)
			if s.store.fine == nil {
				s.store.local(d.name, t, c)
				delete(d.pending, start)
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := s.store.add(wctx, d.name, t, c)
			cancel()
			if err != nil {
				s.m.writeErrors.Inc()
				if ctx.Err() == nil {
					s.log.Warn("slos: cannot store counts; kept for the next round", "slo", d.name, "err", err)
				}
				break
			}
			delete(d.pending, start)
		}
	}
}

// local adds counts to the in-memory mirror (no engine: benchmarks).
func (st *sloStore) local(name string, t time.Time, c Counts) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.series(name)
	f, h := t.Truncate(st.res).Unix(), t.Truncate(time.Hour).Unix()
	sr.fine[f] = sr.fine[f].Add(c)
	sr.hours[h] = sr.hours[h].Add(c)
}

// evaluate computes every SLO's burn tiers and budget and fires or
// resolves its alerts.
func (s *SLOs) evaluate(now time.Time) {
	s.store.prune(now, s.fineKeep, s.hourKeep)
	out := make([]SLOStatus, 0, len(s.defs))
	for _, d := range s.defs {
		out = append(out, s.evaluateOne(d, now))
	}
	s.mu.Lock()
	s.status = out
	s.mu.Unlock()
}

func (s *SLOs) evaluateOne(d *sloDef, now time.Time) SLOStatus {
	c := d.cfg
	win := s.store.sum(d.name, now, c.Window.D(), s.fineMax)
	st := SLOStatus{
		Name: d.name, Description: c.Description, Indicator: indicatorName(c.Indicator), Component: d.component, Site: c.Site,
		Objective: c.Objective, Window: fmtWindow(c.Window.D()), Events: win, Budget: BudgetRemaining(win, c.Objective),
	}
	if win.Total > 0 {
		v := min(win.Good/win.Total, 1)
		st.SLI = &v
	}
	st.Exhausted = st.Budget <= 0 && win.Total >= float64(c.MinEvents)
	bySeverity := map[string]*TierState{}
	for _, b := range s.cfg.SLOPolicy.Burns {
		long := s.store.sum(d.name, now, b.Long.D(), s.fineMax)
		short := s.store.sum(d.name, now, b.Short.D(), s.fineMax)
		ts := EvalTier(b, long, short, c.Objective, c.MinEvents)
		st.Burns = append(st.Burns, ts)
		s.m.burn.WithLabelValues(d.name, ts.Long).Set(ts.LongBurn)
		s.m.burn.WithLabelValues(d.name, ts.Short).Set(ts.ShortBurn)
		if cur := bySeverity[b.Severity]; ts.Firing && (cur == nil || ts.LongBurn/ts.Factor > cur.LongBurn/cur.Factor) {
			bySeverity[b.Severity] = &st.Burns[len(st.Burns)-1]
		} else if cur == nil {
			bySeverity[b.Severity] = nil
		}
	}
	s.m.budget.WithLabelValues(d.name).Set(st.Budget)
	for _, sev := range sloSortedNames(bySeverity) {
		id := "slo/" + d.name + "/" + sev
		if t := bySeverity[sev]; t != nil {
			st.Firing = append(st.Firing, sev)
			s.fire(d, id, Alert{
				ID: id, Kind: "slo", Severity: sev, Site: c.Site, Component: d.component, Check: "slo/" + d.name,
				Summary: fmt.Sprintf("SLO %s (%s of %s good over %s) is burning its error budget %.1fx over %s and %.1fx over %s (%s at %gx): look at %s",
					d.name, fmtPct(c.Objective), st.Indicator, st.Window, t.LongBurn, t.Long, t.ShortBurn, t.Short, sev, t.Factor, d.component),
				Labels:   map[string]string{"alertname": "SLOBurnRate", "slo": d.name, "indicator": st.Indicator},
				StartsAt: now.UTC(),
			})
		} else {
			s.resolve(d, id)
		}
	}
	id := "budget/" + d.name
	if st.Exhausted {
		s.fire(d, id, Alert{
			ID: id, Kind: "budget", Severity: "ticket", Site: c.Site, Component: d.component, Check: "slo/" + d.name,
			Summary: fmt.Sprintf("SLO %s has spent its error budget over %s (%.0f%% left; %.0f of %.0f events bad, objective %s): look at %s",
				d.name, st.Window, 100*st.Budget, win.Bad(), win.Total, fmtPct(c.Objective), d.component),
			Labels:   map[string]string{"alertname": "SLOErrorBudgetExhausted", "slo": d.name, "indicator": st.Indicator},
			StartsAt: now.UTC(),
		})
	} else {
		s.resolve(d, id)
	}
	return st
}

// fire raises an alert; resolve ends it after two evaluations in a row
// without its condition, so replicas a moment apart do not flap it.
func (s *SLOs) fire(d *sloDef, id string, a Alert) {
	d.clear[id] = 0
	s.alerter.Fire(a)
}

func (s *SLOs) resolve(d *sloDef, id string) {
	d.clear[id]++
	if d.clear[id] >= 2 {
		s.alerter.Resolve(id)
	}
}

func fmtPct(f float64) string { return fmt.Sprintf("%.4g%%", 100*f) }

func indicatorName(in config.Indicator) string {
	switch {
	case in.Ratio != nil:
		return "ratio"
	case in.Latency != nil:
		return "latency"
	case in.Gauge != nil:
		return "gauge"
	}
	return in.Builtin
}

// Status is every SLO as last evaluated, by name.
func (s *SLOs) Status() []SLOStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.status)
}

// Budgets lists every SLO's remaining error budget over its window, as
// last evaluated (the daily inspection flags those under a quarter).
func (s *SLOs) Budgets() []Budget {
	out := []Budget{}
	for _, st := range s.Status() {
		c := s.cfg.SLOs[st.Name]
		out = append(out, Budget{Name: st.Name, Objective: st.Objective, Window: c.Window.D(), Remaining: st.Budget, Events: st.Events.Total, Component: st.Component, Site: st.Site})
	}
	return out
}
