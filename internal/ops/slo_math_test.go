package ops

import (
	"math"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBurnRateAndBudget(t *testing.T) {
	cases := []struct {
		name        string
		c           Counts
		objective   float64
		burn, budge float64
	}{
		// 1 bad in 1000 against 99.9%: exactly on budget.
		{"on budget", Counts{999, 1000}, 0.999, 1, 0},
		// 1.44% errors against 99.9%: the workbook's fast page.
		{"fast page", Counts{9856, 10000}, 0.999, 14.4, -13.4},
		// 5 bad in 1000 against 99%: half the budget.
		{"half spent", Counts{995, 1000}, 0.99, 0.5, 0.5},
		{"no errors", Counts{500, 500}, 0.99, 0, 1},
		{"no events", Counts{0, 0}, 0.999, 0, 1},
		// Everything failing against 99.5%: burn 200.
		{"all bad", Counts{0, 50}, 0.995, 200, -199},
		// More good than total (counter skew between replicas) is no error.
		{"skew", Counts{11, 10}, 0.9, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if b := BurnRate(c.c, c.objective); !near(b, c.burn) {
				t.Errorf("burn rate %v, want %v", b, c.burn)
			}
			if r := BudgetRemaining(c.c, c.objective); !near(r, c.budge) {
				t.Errorf("budget remaining %v, want %v", r, c.budge)
			}
		})
	}
}

func TestEvalTier(t *testing.T) {
	page := config.BurnTier{Severity: "page", Long: config.Duration(time.Hour), Short: config.Duration(5 * time.Minute), Factor: 14.4}
	cases := []struct {
		name        string
		long, short Counts
		min         int
		firing, low bool
		longBurn    float64
	}{
		// 2% errors over both windows against 99.9%: burn 20 ≥ 14.4.
		{"both windows burn", Counts{9800, 10000}, Counts{980, 1000}, 20, true, false, 20},
		// The short window has recovered: no page (fast reset).
		{"short recovered", Counts{9800, 10000}, Counts{1000, 1000}, 20, false, false, 20},
		// A brief spike: short burns, long does not reach 14.4.
		{"spike only", Counts{9990, 10000}, Counts{990, 1000}, 20, false, false, 1},
		// 1 failure in 3 events: burn 333, but fewer than 20 events.
		{"low traffic", Counts{2, 3}, Counts{0, 1}, 20, false, true, 1000.0 / 3},
		// The same with the guard at 3 events fires.
		{"low traffic allowed", Counts{2, 3}, Counts{0, 1}, 3, true, false, 1000.0 / 3},
		// Exactly at the factor fires (≥).
		{"at factor", Counts{9856, 10000}, Counts{9856, 10000}, 20, true, false, 14.4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := EvalTier(page, c.long, c.short, 0.999, c.min)
			if s.Firing != c.firing || s.LowTraffic != c.low || !near(s.LongBurn, c.longBurn) {
				t.Errorf("got firing=%v low=%v burn=%v; want %v %v %v", s.Firing, s.LowTraffic, s.LongBurn, c.firing, c.low, c.longBurn)
			}
			if s.Long != "1h" || s.Short != "5m" {
				t.Errorf("windows %q/%q", s.Long, s.Short)
			}
		})
	}
}

func TestFmtWindow(t *testing.T) {
	for d, want := range map[time.Duration]string{
		72 * time.Hour: "3d", 30 * time.Minute: "30m", 6 * time.Hour: "6h", 90 * time.Second: "1m30s", 2 * time.Second: "2s",
	} {
		if got := fmtWindow(d); got != want {
			t.Errorf("fmtWindow(%v) = %q, want %q", d, got, want)
		}
	}
}
