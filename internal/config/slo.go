package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// SLO is one service-level objective (OpenSLO v1 concepts): an indicator
// (good events out of total events, or the share of events faster than a
// threshold), an objective (the target share of good events) and a
// rolling window of 28 or 30 days.
type SLO struct {
	Description string    `yaml:"description"`
	Indicator   Indicator `yaml:"indicator"`
	// Objective is the target share of good events, 0.5-0.99999
	// (OpenSLO's target; 0.999 is 99.9%).
	Objective float64 `yaml:"objective"`
	// Window is the rolling compliance window: 28d or 30d (default 30d).
	Window Duration `yaml:"window"`
	// Component and Site locate the SLO's alerts; built-in indicators
	// name their component (exchange/results, subscription/orders).
	Component string `yaml:"component"`
	Site      string `yaml:"site"`
	// MinEvents overrides slo_policy.min_events for this SLO.
	MinEvents int `yaml:"min_events"`
}

// Indicator says how events are counted. Exactly one of Builtin, Ratio,
// Latency or Gauge is set.
type Indicator struct {
	// Builtin names one of stadion's own measurements (BuiltinIndicators);
	// the fields after it select what it measures.
	Builtin      string   `yaml:"builtin"`
	Topic        string   `yaml:"topic"`
	Subscription string   `yaml:"subscription"`
	Sink         string   `yaml:"sink"`
	Venue        string   `yaml:"venue"`
	Threshold    Duration `yaml:"threshold"` // latency builtins: a good event is at most this slow
	MaxLag       int64    `yaml:"max_lag"`   // delivery_freshness: a good sample has at most this lag

	Ratio   *RatioIndicator   `yaml:"ratio"`
	Latency *LatencyIndicator `yaml:"latency"`
	Gauge   *GaugeIndicator   `yaml:"gauge"`
}

// MetricSelector sums the series of a metric in this process's Prometheus
// registry whose labels include Labels.
type MetricSelector struct {
	Metric string            `yaml:"metric"`
	Labels map[string]string `yaml:"labels"`
}

// RatioIndicator counts good and total events from counters; Bad may be
// given instead of Total (total = good + bad).
type RatioIndicator struct {
	Good  *MetricSelector `yaml:"good"`
	Bad   *MetricSelector `yaml:"bad"`
	Total *MetricSelector `yaml:"total"`
}

// LatencyIndicator counts a histogram's observations at or under Threshold
// as good (the highest bucket bound not above it).
type LatencyIndicator struct {
	MetricSelector `yaml:",inline"`
	Threshold      Duration `yaml:"threshold"`
}

// GaugeIndicator samples a gauge once per evaluation: a sample at or under
// Max is one good event (OpenSLO's time slices).
type GaugeIndicator struct {
	MetricSelector `yaml:",inline"`
	Max            float64 `yaml:"max"`
}

// BuiltinIndicators are the built-in indicators and the selector each
// needs ("" when none).
var BuiltinIndicators = map[string]string{
	"publish_availability":  "topic",
	"publish_latency":       "topic",
	"delivery_success":      "subscription or sink",
	"delivery_freshness":    "subscription or sink",
	"gate_decision_latency": "",
	"live_fanout":           "",
	"live_delivery":         "",
	"capture_tick_to_frame": "",
}

// SLOPolicy says how SLOs are evaluated and when their burn alerts fire.
type SLOPolicy struct {
	// Interval is how often SLOs are sampled and evaluated (default 30s).
	Interval Duration `yaml:"interval"`
	// Resolution is the width of the shared count buckets for windows up
	// to a day (default 1m); longer windows use hourly buckets.
	Resolution Duration `yaml:"resolution"`
	// MinEvents is the low-traffic guard: a burn tier fires only when its
	// long window holds at least this many events (default 20).
	MinEvents int `yaml:"min_events"`
	// Burns are the multi-window burn-rate tiers (default: the SRE
	// workbook's page 14.4 over 1h/5m, page 6 over 6h/30m, ticket 1 over
	// 3d/6h).
	Burns []BurnTier `yaml:"burns"`
}

// BurnTier fires when the burn rate over both Long and Short reaches
// Factor (a burn rate of 1 spends the budget exactly over the window).
type BurnTier struct {
	Severity string   `yaml:"severity"`
	Long     Duration `yaml:"long"`
	Short    Duration `yaml:"short"`
	Factor   float64  `yaml:"factor"`
}

// DefaultBurns are the SRE workbook's multi-window, multi-burn-rate tiers.
func DefaultBurns() []BurnTier {
	h := func(d time.Duration) Duration { return Duration(d) }
	return []BurnTier{
		{Severity: "page", Long: h(time.Hour), Short: h(5 * time.Minute), Factor: 14.4},
		{Severity: "page", Long: h(6 * time.Hour), Short: h(30 * time.Minute), Factor: 6},
		{Severity: "ticket", Long: h(72 * time.Hour), Short: h(6 * time.Hour), Factor: 1},
	}
}

// MaxSLOs caps slos: each is sampled, stored and evaluated continuously.
const MaxSLOs = 500

func (c *Config) setSLODefaults() {
	p := &c.SLOPolicy
	if p.Interval == 0 {
		p.Interval = Duration(30 * time.Second)
	}
	if p.Resolution == 0 {
		p.Resolution = Duration(time.Minute)
	}
	if p.MinEvents == 0 {
		p.MinEvents = 20
	}
	if len(p.Burns) == 0 {
		p.Burns = DefaultBurns()
	}
	for name, s := range c.SLOs {
		if s == nil {
			s = &SLO{}
			c.SLOs[name] = s
		}
		if s.Window == 0 {
			s.Window = Duration(30 * 24 * time.Hour)
		}
		if s.Site == "" {
			s.Site = "cloud"
		}
		if s.MinEvents == 0 {
			s.MinEvents = p.MinEvents
		}
	}
	c.setAlertDefaults()
}

func (c *Config) validateSLOs() []error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, fieldErr(field, format, args...)) }
	p := c.SLOPolicy
	if p.Interval.D() < 100*time.Millisecond || p.Interval.D() > 10*time.Minute {
		add("slo_policy.interval", "must be from 100ms to 10m")
	}
	if p.Resolution.D() < time.Second || p.Resolution.D() > time.Hour {
		add("slo_policy.resolution", "must be from 1s to 1h")
	}
	if p.MinEvents < 1 {
		add("slo_policy.min_events", "must be at least 1")
	}
	for i, b := range p.Burns {
		f := fmt.Sprintf("slo_policy.burns[%d]", i)
		if !slices.Contains([]string{"page", "ticket", "info"}, b.Severity) {
			add(f+".severity", "must be page, ticket or info, not %q", b.Severity)
		}
		if b.Short <= 0 || b.Long <= b.Short {
			add(f, "long (%s) must be longer than short (%s), both positive", b.Long, b.Short)
		}
		if b.Long.D() > 31*24*time.Hour {
			add(f+".long", "must be at most 31d")
		}
		if b.Factor <= 0 {
			add(f+".factor", "must be positive")
		}
		if b.Short.D() < p.Resolution.D() {
			add(f+".short", "must be at least slo_policy.resolution (%s)", p.Resolution)
		}
	}
	if len(c.SLOs) > MaxSLOs {
		add("slos", "at most %d SLOs, not %d", MaxSLOs, len(c.SLOs))
	}
	for _, name := range sortedKeys(c.SLOs) {
		errs = append(errs, c.validateSLO(name, c.SLOs[name])...)
	}
	return append(errs, c.validateAlerts()...)
}

func (c *Config) validateSLO(name string, s *SLO) []error {
	field := "slos." + name
	var errs []error
	add := func(sub, format string, args ...any) { errs = append(errs, fieldErr(field+sub, format, args...)) }
	if !validName(name) {
		add("", "name must be lower-case letters, digits, '-' or '_' (at most 64)")
	}
	if s.Objective < 0.5 || s.Objective > 0.99999 {
		add(".objective", "must be a share from 0.5 to 0.99999 (0.999 is 99.9%%), not %v", s.Objective)
	}
	if w := s.Window.D(); w != 28*24*time.Hour && w != 30*24*time.Hour && w > c.longestBurn() {
		add(".window", "must be 28d or 30d, not %s", s.Window)
	}
	if s.MinEvents < 1 {
		add(".min_events", "must be at least 1")
	}
	if s.Site != "cloud" && c.Venues[s.Site] == nil {
		add(".site", "must be cloud or a configured venue, not %q", s.Site)
	}
	in := s.Indicator
	set := 0
	for _, b := range []bool{in.Builtin != "", in.Ratio != nil, in.Latency != nil, in.Gauge != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		add(".indicator", "set exactly one of builtin, ratio, latency or gauge")
		return errs
	}
	switch {
	case in.Builtin != "":
		errs = append(errs, c.validateBuiltin(field+".indicator", in)...)
	case in.Ratio != nil:
		r := in.Ratio
		if r.Good == nil || (r.Bad == nil) == (r.Total == nil) {
			add(".indicator.ratio", "needs good and exactly one of bad or total")
		}
		for sub, m := range map[string]*MetricSelector{"good": r.Good, "bad": r.Bad, "total": r.Total} {
			if m != nil && m.Metric == "" {
				add(".indicator.ratio."+sub+".metric", "required")
			}
		}
	case in.Latency != nil:
		if in.Latency.Metric == "" {
			add(".indicator.latency.metric", "required (a histogram)")
		}
		if in.Latency.Threshold <= 0 {
			add(".indicator.latency.threshold", "required (e.g. 50ms)")
		}
	case in.Gauge != nil:
		if in.Gauge.Metric == "" {
			add(".indicator.gauge.metric", "required")
		}
	}
	return errs
}

// longestBurn is the longest burn window; an SLO window shorter than the
// workbook's is accepted only when every tier fits in it (tests, drills).
func (c *Config) longestBurn() time.Duration {
	var d time.Duration
	for _, b := range c.SLOPolicy.Burns {
		d = max(d, b.Long.D())
	}
	return d
}

func (c *Config) validateBuiltin(field string, in Indicator) []error {
	var errs []error
	add := func(sub, format string, args ...any) { errs = append(errs, fieldErr(field+sub, format, args...)) }
	need, ok := BuiltinIndicators[in.Builtin]
	if !ok {
		names := make([]string, 0, len(BuiltinIndicators))
		for n := range BuiltinIndicators {
			names = append(names, n)
		}
		slices.Sort(names)
		add(".builtin", "unknown indicator %q (one of %s)", in.Builtin, strings.Join(names, ", "))
		return errs
	}
	switch need {
	case "topic":
		if c.Topics[in.Topic] == nil {
			add(".topic", "must name a configured topic, not %q", in.Topic)
		}
	case "subscription or sink":
		if (in.Subscription == "") == (in.Sink == "") {
			add("", "%s needs exactly one of subscription or sink", in.Builtin)
		}
		if in.Sink != "" && c.Sinks[in.Sink] == nil {
			add(".sink", "must name a configured sink, not %q", in.Sink)
		}
		if in.Subscription != "" && !validName(in.Subscription) {
			add(".subscription", "must be a subscription name, not %q", in.Subscription)
		}
	}
	switch in.Builtin {
	case "publish_latency", "gate_decision_latency", "live_fanout", "capture_tick_to_frame":
		if in.Threshold <= 0 {
			add(".threshold", "required for %s (e.g. 50ms)", in.Builtin)
		}
	case "delivery_freshness":
		if in.MaxLag < 0 {
			add(".max_lag", "must not be negative")
		}
	}
	return errs
}

// validReceiverURL checks an alert receiver's URL.
func validReceiverURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}
