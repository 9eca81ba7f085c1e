package ops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/ops/drain"
)

// Anomalies mines the lines of a LogFeed into template classes per
// component, counted per minute, and raises anomalies: a class first seen
// at WARN or above, and a class whose count in the last minute jumps to
// rate_factor times its mean over the hour before (and at least 20).
// Lines past anomalies.lines_per_minute are counted, not mined. The
// classes are this process's (each replica and edge mines its own logs);
// the SLO service shares them with the other replicas (anomaly_share.go).
type Anomalies struct {
	cfg     config.Anomalies
	alerter Alerter
	site    string
	m       *anomalyMetrics
	now     func() time.Time

	mu      sync.Mutex
	miner   *drain.Miner
	classes map[classKey]*logClass
	minute  int64 // the minute lines are being budgeted in
	inBudge int
	toks    []string
}

type classKey struct {
	component string
	cluster   int
}

// class is one template of one component.
type logClass struct {
	id        string
	component string
	cluster   *drain.Cluster
	level     slog.Level
	count     int64
	first     time.Time
	last      time.Time
	example   string
	perMin    [rateHistory + 1]int64 // counts by minute, ring indexed by minute
	minOf     [rateHistory + 1]int64 // the minute each slot holds
	alerts    map[string]bool        // alert ids this class has firing
}

const (
	rateHistory  = 60 // minutes of history a rate jump is measured against
	rateMinCount = 20
	rateMinAge   = 10 * time.Minute
	maxExample   = 512
)

// AnomalyClass is one class as GET /v1/anomalies shows it.
type AnomalyClass struct {
	ID         string    `json:"id"`
	Component  string    `json:"component"`
	Template   string    `json:"template"`
	Level      string    `json:"level"`
	Count      int64     `json:"count"`
	LastMinute int64     `json:"last_minute"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Example    string    `json:"example"` // masked: ids, numbers, addresses and keys replaced
	Anomalous  bool      `json:"anomalous"`
	// Processes is how many processes reported the class (GET
	// /v1/anomalies merges every replica's summaries).
	Processes int `json:"processes,omitempty"`
}

// NewAnomalies builds the miner; site is "cloud" or the edge's venue.
func NewAnomalies(cfg config.Anomalies, site string, alerter Alerter, reg prometheus.Registerer) *Anomalies {
	return &Anomalies{
		cfg: cfg, alerter: alerter, site: site, m: newAnomalyMetrics(reg), now: time.Now,
		miner: drain.New(drain.Options{
			Similarity: cfg.Similarity, MaxTemplates: cfg.MaxTemplates, MaxTokens: cfg.MaxTokens,
		}),
		classes: map[classKey]*logClass{},
	}
}

// Run mines the feed's lines and sweeps for rate jumps and quiet classes
// until ctx ends.
func (a *Anomalies) Run(ctx context.Context, feed *LogFeed) {
	feed.attached.Store(true)
	defer feed.attached.Store(false)
	sweep := time.NewTicker(10 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-feed.ch:
			a.Add(l)
		case <-sweep.C:
			a.Sweep()
			a.m.feedDropped.Set(float64(feed.Dropped()))
		}
	}
}

// Add mines one line (within the per-minute budget).
func (a *Anomalies) Add(l LogLine) {
	now := l.Time
	if now.IsZero() {
		now = a.now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := now.Unix() / 60; m != a.minute {
		a.minute, a.inBudge = m, 0
	}
	if a.inBudge >= a.cfg.LinesPerMinute {
		a.m.lines.WithLabelValues("over_budget").Inc()
		return
	}
	a.inBudge++
	toks, dropped := drain.Tokenize(l.Text, a.cfg.MaxTokens, a.toks)
	a.toks = toks
	if dropped > 0 {
		a.m.tokensDropped.Add(float64(dropped))
	}
	c, _ := a.miner.AddTokens(toks)
	if c == nil {
		a.m.lines.WithLabelValues("no_template").Inc()
		return
	}
	a.m.lines.WithLabelValues("mined").Inc()
	k := classKey{l.Component, c.ID}
	cl := a.classes[k]
	if cl == nil && len(a.classes) >= 4*a.cfg.MaxTemplates {
		a.m.lines.WithLabelValues("no_template").Inc()
		return
	}
	if cl == nil {
		cl = &logClass{
			id: a.classID(l, toks), component: l.Component, cluster: c, level: l.Level,
			first: now, example: clipExample(strings.Join(toks, " "), maxExample), alerts: map[string]bool{},
		}
		a.classes[k] = cl
		a.m.classes.Set(float64(len(a.classes)))
		if l.Level >= slog.LevelWarn {
			a.raise(cl, "new", fmt.Sprintf("new %s log class in %s: %q", anomalyLevel(l.Level), l.Component, cl.example), now)
		}
	}
	cl.level = max(cl.level, l.Level)
	cl.count++
	cl.last = now
	cl.bump(now.Unix() / 60)
}

func (c *logClass) bump(minute int64) {
	i := minute % int64(len(c.perMin))
	if c.minOf[i] != minute {
		c.minOf[i], c.perMin[i] = minute, 0
	}
	c.perMin[i]++
}

// in is the class's count in one minute (0 once it left the ring).
func (c *logClass) in(minute int64) int64 {
	i := minute % int64(len(c.perMin))
	if c.minOf[i] != minute {
		return 0
	}
	return c.perMin[i]
}

// Sweep raises rate anomalies for the last complete minute and resolves
// anomalies of classes quiet for quiet_after.
func (a *Anomalies) Sweep() {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := now.Unix()/60 - 1
	for _, c := range a.classes {
		last := c.in(prev)
		var sum int64
		for m := prev - rateHistory; m < prev; m++ {
			sum += c.in(m)
		}
		mean := float64(sum) / rateHistory
		jump := now.Sub(c.first) >= rateMinAge && last >= rateMinCount && float64(last) >= a.cfg.RateFactor*mean
		if jump {
			a.raise(c, "rate", fmt.Sprintf("log class in %s jumped to %d lines a minute (mean %.1f over the hour before): %q", c.component, last, mean, c.example), now)
		} else if c.alerts["rate"] {
			a.settle(c, "rate")
		}
		if c.alerts["new"] && now.Sub(c.last) >= a.cfg.QuietAfter.D() {
			a.settle(c, "new")
		}
	}
}

func (a *Anomalies) raise(c *logClass, what, summary string, now time.Time) {
	if a.alerter == nil {
		return
	}
	sev := "info"
	if c.level >= slog.LevelError {
		sev = "ticket"
	}
	c.alerts[what] = true
	a.m.raised.WithLabelValues(what).Inc()
	a.alerter.Fire(Alert{
		ID: "anomaly/" + what + "/" + c.id, Kind: "anomaly", Severity: sev, Site: a.site,
		Component: c.component, Check: "logs/" + what + "-class", Summary: summary,
		Labels:   map[string]string{"alertname": "LogAnomaly", "class": c.id, "level": anomalyLevel(c.level)},
		StartsAt: now.UTC(),
	})
}

func (a *Anomalies) settle(c *logClass, what string) {
	delete(c.alerts, what)
	if a.alerter != nil {
		a.alerter.Resolve("anomaly/" + what + "/" + c.id)
	}
}

// Classes lists the classes, anomalous first, then the most recently seen.
func (a *Anomalies) Classes() []AnomalyClass {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.now().Unix()/60 - 1
	out := make([]AnomalyClass, 0, len(a.classes))
	for _, c := range a.classes {
		out = append(out, AnomalyClass{
			ID: c.id, Component: c.component, Template: c.cluster.String(), Level: anomalyLevel(c.level),
			Count: c.count, LastMinute: c.in(prev), FirstSeen: c.first.UTC(), LastSeen: c.last.UTC(),
			Example: c.example, Anomalous: len(c.alerts) > 0,
		})
	}
	sortClasses(out)
	return out
}

// classID names a class by its component and the masked message of the
// line that opened it (the whole masked line when the message is not
// known: advisories), so every replica names it alike.
func (a *Anomalies) classID(l LogLine, toks []string) string {
	if l.Message != "" {
		toks, _ = drain.Tokenize(l.Message, a.cfg.MaxTokens, nil)
	}
	h := sha256.New()
	h.Write([]byte(l.Component))
	for _, t := range toks {
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

func anomalyLevel(l slog.Level) string { return strings.ToLower(l.String()) }

func clipExample(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type anomalyMetrics struct {
	lines         *prometheus.CounterVec
	tokensDropped prometheus.Counter
	classes       prometheus.Gauge
	raised        *prometheus.CounterVec
	feedDropped   prometheus.Gauge
}

func newAnomalyMetrics(reg prometheus.Registerer) *anomalyMetrics {
	m := &anomalyMetrics{
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_anomaly_lines_total", Help: "Log lines and advisories offered to the template miner, by outcome (mined, over_budget: past anomalies.lines_per_minute, no_template: past anomalies.max_templates).",
		}, []string{"outcome"}),
		tokensDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_anomaly_tokens_dropped_total", Help: "Tokens cut from lines longer than anomalies.max_tokens.",
		}),
		classes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_anomaly_classes", Help: "Log template classes kept (per component).",
		}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_anomalies_raised_total", Help: "Anomalies raised, by what (new: a class first seen at WARN or above, rate: a class's rate jumped).",
		}, []string{"what"}),
		feedDropped: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_anomaly_feed_dropped", Help: "Log lines dropped because the miner's queue (4096) was full.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.lines, m.tokensDropped, m.classes, m.raised, m.feedDropped)
	}
	return m
}
