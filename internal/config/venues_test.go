package config

import (
	"strings"
	"testing"
	"time"
)

func TestVenuesInheritAndOverride(t *testing.T) {
	c, err := Parse([]byte(`
gate: {clock_skew: 5m, max_batch: 128}
venues:
  bird-nest: {gates: [north-1, north-2]}
  ice-cube: {gates: [east-1], reentry: allow-after-exit, max_batch: 64}
`), testFS, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	bn, ic := c.Venues["bird-nest"].Effective, c.Venues["ice-cube"].Effective
	for _, check := range []struct {
		name      string
		got, want any
	}{
		{"bird-nest reentry (default)", bn.Reentry, ReentryDeny},
		{"bird-nest clock_skew (gate)", bn.ClockSkew.D(), 5 * time.Minute},
		{"bird-nest max_batch (gate)", bn.MaxBatch, 128},
		{"bird-nest heartbeat (default)", bn.Heartbeat.D(), 2 * time.Second},
		{"ice-cube reentry (own)", ic.Reentry, ReentryAllowAfterExit},
		{"ice-cube max_batch (own)", ic.MaxBatch, 64},
		{"ice-cube clock_skew (gate)", ic.ClockSkew.D(), 5 * time.Minute},
		{"venue names sorted", strings.Join(c.VenueNames(), ","), "bird-nest,ice-cube"},
	} {
		if check.got != check.want {
			t.Errorf("%s: got %v, want %v", check.name, check.got, check.want)
		}
	}
}

func TestVenueErrorsNameTheField(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"bad reentry":   {"venues: {a: {reentry: sometimes}}", "venues.a.reentry"},
		"bad gate":      {"venues: {a: {gates: [North]}}", "venues.a.gates[0]"},
		"twice":         {"venues: {a: {gates: [n, n]}}", "venues.a.gates[1]"},
		"bad name":      {"venues: {Bird: {gates: [n]}}", "venues.Bird"},
		"empty":         {"venues: {a: }", "venues.a"},
		"batch":         {"gate: {max_batch: 10000}", "gate.max_batch"},
		"heartbeat":     {"venues: {a: {heartbeat: 1ms}}", "venues.a.heartbeat"},
		"unknown field": {"venues: {a: {gatez: [n]}}", "gatez"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), testFS, "cfg")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
