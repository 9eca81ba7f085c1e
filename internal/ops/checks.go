package ops

import (
	"context"
	"math"
	"time"
)

// SiteCloud is the site of every component that is not a venue's.
const SiteCloud = "cloud"

// Check is one measured value of one component against its thresholds.
// Value is "worse when higher" unless LowerIsWorse is set. A check at or
// below Warn scores 100; at Crit it scores 40; past Crit it falls to 0 at
// Crit + (Crit - Warn). See docs/ops.md.
type Check struct {
	Site      string  `json:"site"`      // SiteCloud or a venue id
	Component string  `json:"component"` // kind/name: "sink/results-db", "gate/venue-bn", "engine"
	Name      string  `json:"name"`      // the check: "lag", "db_errors", "link_down"
	Value     float64 `json:"value"`
	Unit      string  `json:"unit,omitempty"` // "ratio", "events", "s", "count", ...
	Warn      float64 `json:"warn"`
	Crit      float64 `json:"crit"`
	// LowerIsWorse flips the direction: free space, days to expiry.
	LowerIsWorse bool `json:"lower_is_worse,omitempty"`
	// Weight within its component; 0 means 1.
	Weight float64 `json:"weight,omitempty"`
	// Detail says in words what the value means and where to look.
	Detail string `json:"detail,omitempty"`
	// NoHistory marks a check whose value is a state (1 = bad) rather
	// than a level: it is scored but has no trend.
	NoHistory bool `json:"no_history,omitempty"`
}

// Kind is the component kind: the part of Component before '/'.
func (c Check) Kind() string {
	for i := 0; i < len(c.Component); i++ {
		if c.Component[i] == '/' {
			return c.Component[:i]
		}
	}
	return c.Component
}

// Key names the check across time: site, component and name.
func (c Check) Key() string { return c.Site + "|" + c.Component + "|" + c.Name }

// ConfigKey is the key of the check's overrides in health.checks:
// "<kind>.<name>" ("sink.lag").
func (c Check) ConfigKey() string { return c.Kind() + "." + c.Name }

// Source contributes checks. Capabilities and the engine implement it;
// Checks is called from one goroutine at a time, must return within ctx's
// deadline, and returns what it could measure (a source that cannot
// measure a thing reports a check saying so rather than nothing).
type Source interface {
	Checks(ctx context.Context) []Check
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) []Check

// Checks calls f.
func (f SourceFunc) Checks(ctx context.Context) []Check { return f(ctx) }

// State is a 0/1 check: 1 when bad (a link down, a failing database),
// which then scores 0; raise Crit to 1 for a softer 40 (a paused sink).
func State(site, component, name string, bad bool, detail string) Check {
	v := 0.0
	if bad {
		v = 1
	}
	return Check{Site: site, Component: component, Name: name, Value: v, Warn: 0, Crit: 0.5, Detail: detail, NoHistory: true}
}

// finite replaces NaN and infinities, which JSON cannot carry.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func nowUTC() time.Time { return time.Now().UTC() }
