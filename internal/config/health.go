package config

import (
	"regexp"
	"time"
)

// Health configures health checks, scores and the daily inspection
// (docs/ops.md).
type Health struct {
	// Interval is how often every process evaluates the checks (15s).
	Interval Duration `yaml:"interval"`
	// AlertBelow is the grade under which a site or component raises a
	// "health" alert (C: a D or an F alerts).
	AlertBelow string `yaml:"alert_below"`
	// Weights weigh component kinds within a site ("sink": 2); 1 when not
	// named. Kinds: engine, stream, exchange, subscription, sink, live,
	// gate, capture, keys.
	Weights map[string]float64 `yaml:"weights"`
	// Checks override a check's thresholds and weight, by "<kind>.<check>"
	// ("sink.lag", "engine.disk_used").
	Checks map[string]*CheckOverride `yaml:"checks"`
	// Inspection schedules the daily inspection.
	Inspection Inspection `yaml:"inspection"`
}

// CheckOverride replaces a check's thresholds or weight; an unset field
// keeps the capability's default.
type CheckOverride struct {
	Warn   *float64 `yaml:"warn"`
	Crit   *float64 `yaml:"crit"`
	Weight *float64 `yaml:"weight"`
}

// Inspection schedules `stadion inspect system` inside the server.
type Inspection struct {
	// Every is the interval between scheduled runs (24h); 0s turns them off.
	Every *Duration `yaml:"every"`
	// Keep is how many reports are kept (30).
	Keep int `yaml:"keep"`
}

// InspectionEvery is the schedule's interval, 0 when off.
func (i Inspection) InspectionEvery() time.Duration {
	if i.Every == nil {
		return 24 * time.Hour
	}
	return i.Every.D()
}

var checkKey = regexp.MustCompile(`^[a-z][a-z0-9_-]*\.[a-z][a-z0-9_]*$`)

func (c *Config) setHealthDefaults() {
	h := &c.Health
	if h.Interval == 0 {
		h.Interval = Duration(15 * time.Second)
	}
	if h.AlertBelow == "" {
		h.AlertBelow = "C"
	}
	if h.Inspection.Keep == 0 {
		h.Inspection.Keep = 30
	}
}

func (c *Config) validateHealth() []error {
	h := c.Health
	var errs []error
	if h.Interval.D() < time.Second || h.Interval.D() > 10*time.Minute {
		errs = append(errs, fieldErr("health.interval", "must be from 1s to 10m, not %s", h.Interval))
	}
	switch h.AlertBelow {
	case "A", "B", "C", "D", "F", "off":
	default:
		errs = append(errs, fieldErr("health.alert_below", "must be A, B, C, D, F or off, not %q", h.AlertBelow))
	}
	for _, k := range sortedKeys(h.Weights) {
		if w := h.Weights[k]; w < 0 || w > 100 {
			errs = append(errs, fieldErr("health.weights."+k, "must be from 0 to 100, not %g", w))
		}
	}
	for _, k := range sortedKeys(h.Checks) {
		o := h.Checks[k]
		f := "health.checks." + k
		switch {
		case !checkKey.MatchString(k):
			errs = append(errs, fieldErr(f, "name a check as <component kind>.<check>, e.g. sink.lag"))
		case o == nil:
			errs = append(errs, fieldErr(f, "set warn, crit or weight"))
		case o.Weight != nil && (*o.Weight < 0 || *o.Weight > 100):
			errs = append(errs, fieldErr(f+".weight", "must be from 0 to 100"))
		case o.Warn != nil && o.Crit != nil && *o.Warn == *o.Crit:
			errs = append(errs, fieldErr(f, "warn and crit must differ"))
		}
	}
	if e := h.Inspection.InspectionEvery(); e != 0 && e < time.Minute {
		errs = append(errs, fieldErr("health.inspection.every", "must be 0s (off) or at least 1m, not %s", e))
	}
	if k := h.Inspection.Keep; k < 1 || k > 365 {
		errs = append(errs, fieldErr("health.inspection.keep", "must be 1-365, not %d", k))
	}
	return errs
}

// Override applies the health.checks entry for key to warn, crit and weight.
func (h Health) Override(key string, warn, crit, weight float64) (float64, float64, float64) {
	o := h.Checks[key]
	if o == nil {
		return warn, crit, weight
	}
	if o.Warn != nil {
		warn = *o.Warn
	}
	if o.Crit != nil {
		crit = *o.Crit
	}
	if o.Weight != nil {
		weight = *o.Weight
	}
	return warn, crit, weight
}

// DefaultWeights weigh component kinds within a site when health.weights
// does not name them: the engine and venue gates carry everything; there
// are many streams, each of which matters less.
var DefaultWeights = map[string]float64{
	"engine": 3, "gate": 3, "sink": 2, "live": 2, "subscription": 1, "capture": 1, "keys": 1, "stream": 0.5,
}

// Weight is the weight of a component kind in its site's score.
func (h Health) Weight(kind string) float64 {
	if w, ok := h.Weights[kind]; ok {
		return w
	}
	if w, ok := DefaultWeights[kind]; ok {
		return w
	}
	return 1
}
