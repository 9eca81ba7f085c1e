package config

import (
	"strings"
	"testing"
	"time"
)

func TestHealthDefaults(t *testing.T) {
	c, err := Parse([]byte("{}"), testFS, ".")
	if err != nil {
		t.Fatal(err)
	}
	h := c.Health
	if h.Interval.D() != 15*time.Second || h.AlertBelow != "C" || h.Inspection.Keep != 30 || h.Inspection.InspectionEvery() != 24*time.Hour {
		t.Errorf("defaults %+v", h)
	}
	if h.Weight("engine") != 3 || h.Weight("stream") != 0.5 || h.Weight("other") != 1 {
		t.Error("default weights")
	}
	warn, crit, w := h.Override("sink.lag", 1, 2, 3)
	if warn != 1 || crit != 2 || w != 3 {
		t.Error("an override with nothing configured changed the check")
	}
}

func TestHealthValidation(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"health: {interval: 100ms}", "health.interval: must be from 1s to 10m"},
		{"health: {alert_below: E}", `health.alert_below: must be A, B, C, D, F or off, not "E"`},
		{"health: {weights: {sink: -1}}", "health.weights.sink: must be from 0 to 100"},
		{"health: {checks: {lag: {warn: 1}}}", "health.checks.lag: name a check as <component kind>.<check>"},
		{"health: {checks: {sink.lag: {warn: 5, crit: 5}}}", "health.checks.sink.lag: warn and crit must differ"},
		{"health: {checks: {sink.lag: {weight: 101}}}", "health.checks.sink.lag.weight: must be from 0 to 100"},
		{"health: {inspection: {every: 30s}}", "health.inspection.every: must be 0s (off) or at least 1m"},
		{"health: {inspection: {keep: 1000}}", "health.inspection.keep: must be 1-365"},
		{"health: {inspection: {evry: 1h}}", `unknown field "evry" in health.inspection; did you mean "every"?`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), testFS, ".")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
			}
		})
	}
	c, err := Parse([]byte("health: {inspection: {every: 0s}, checks: {sink.lag: {warn: 10}}}"), testFS, ".")
	if err != nil {
		t.Fatal(err)
	}
	if c.Health.Inspection.InspectionEvery() != 0 {
		t.Error("every: 0s does not turn the schedule off")
	}
	if warn, crit, _ := c.Health.Override("sink.lag", 1, 2, 1); warn != 10 || crit != 2 {
		t.Errorf("override gave %g %g", warn, crit)
	}
}
