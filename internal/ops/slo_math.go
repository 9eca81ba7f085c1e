package ops

import (
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// Counts are events of an SLO's indicator over some span.
type Counts struct {
	Good  float64 `json:"good"`
	Total float64 `json:"total"`
}

// Bad is the events that were not good.
func (c Counts) Bad() float64 { return max(c.Total-c.Good, 0) }

// Add sums two spans.
func (c Counts) Add(o Counts) Counts { return Counts{c.Good + o.Good, c.Total + o.Total} }

// BurnRate is how fast the span spends the error budget: its error ratio
// divided by the budget (1 - objective). 1 spends the budget exactly over
// the SLO's window; 14.4 spends a 30-day budget in 50 hours. A span
// without events burns nothing.
func BurnRate(c Counts, objective float64) float64 {
	if c.Total <= 0 || objective >= 1 {
		return 0
	}
	return (c.Bad() / c.Total) / (1 - objective)
}

// BudgetRemaining is the share of the error budget left over a window:
// 1 - bad/(total × (1 - objective)). It is 1 without events and goes
// below 0 once the budget is overspent.
func BudgetRemaining(c Counts, objective float64) float64 {
	if c.Total <= 0 || objective >= 1 {
		return 1
	}
	return 1 - c.Bad()/(c.Total*(1-objective))
}

// TierState is one burn tier evaluated.
type TierState struct {
	Severity   string  `json:"severity"`
	Long       string  `json:"long"`
	Short      string  `json:"short"`
	Factor     float64 `json:"factor"`
	LongBurn   float64 `json:"long_burn"`
	ShortBurn  float64 `json:"short_burn"`
	LongEvents float64 `json:"long_events"`
	// LowTraffic: the long window held fewer than min_events events, so
	// the tier did not fire whatever its burn rates.
	LowTraffic bool `json:"low_traffic,omitempty"`
	Firing     bool `json:"firing"`
}

// EvalTier applies one multi-window burn tier: it fires when the burn
// rate over the long window and over the short window both reach the
// tier's factor, and the long window holds at least minEvents events (the
// low-traffic guard: at 3 events an hour, one failure is a 33% error
// ratio and a burn of 333 against a 99.9% objective; it must not page).
func EvalTier(t config.BurnTier, long, short Counts, objective float64, minEvents int) TierState {
	s := TierState{
		Severity: t.Severity, Long: fmtWindow(t.Long.D()), Short: fmtWindow(t.Short.D()), Factor: t.Factor,
		LongBurn: BurnRate(long, objective), ShortBurn: BurnRate(short, objective), LongEvents: long.Total,
	}
	s.LowTraffic = long.Total < float64(minEvents)
	reach := t.Factor * (1 - 1e-9) // 1.44% errors is a burn of 14.4, not 14.3999…
	s.Firing = !s.LowTraffic && s.LongBurn >= reach && s.ShortBurn >= reach
	return s
}

// fmtWindow writes whole days as 3d and shorter spans as Go durations
// without trailing zero units (1h, 5m, 6h30m).
func fmtWindow(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	for _, z := range []string{"m0s", "h0m"} {
		if len(s) > len(z) && s[len(s)-len(z):] == z {
			s = s[:len(s)-len(z)+1]
		}
	}
	return s
}
