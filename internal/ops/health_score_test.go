package ops

import (
	"math"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

func nearScore(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func ptr(v float64) *float64 { return &v }

func TestBaseScore(t *testing.T) {
	for _, tc := range []struct {
		name          string
		v, warn, crit float64
		lowerIsWorse  bool
		want          float64
	}{
		{"below warn", 0.5, 0.7, 0.9, false, 100},
		{"at warn", 0.7, 0.7, 0.9, false, 100},
		{"half way to crit", 0.8, 0.7, 0.9, false, 70},
		{"at crit", 0.9, 0.7, 0.9, false, 40},
		{"half a span past crit", 1.0, 0.7, 0.9, false, 20},
		{"far past crit", 1.2, 0.7, 0.9, false, 0},
		{"days left, fine", 40, 30, 7, true, 100},
		{"days left, 20", 20, 30, 7, true, 100 - 60*10.0/23},
		{"days left, expired", -20, 30, 7, true, 0},
		{"bad state", 1, 0, 0.5, false, 0},
		{"soft bad state", 1, 0, 1, false, 40},
		{"good state", 0, 0, 0.5, false, 100},
		{"crit equal to warn: the span is a tenth of warn", 11, 10, 10, false, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := baseScore(tc.v, tc.warn, tc.crit, tc.lowerIsWorse); !nearScore(got, tc.want) {
				t.Errorf("baseScore(%g, %g, %g) = %g, want %g", tc.v, tc.warn, tc.crit, got, tc.want)
			}
		})
	}
}

func TestCheckScoreWithHistory(t *testing.T) {
	c := Check{Value: 0.8, Warn: 0.7, Crit: 0.9}
	for _, tc := range []struct {
		name string
		past Past
		want float64
	}{
		{"no history", Past{}, 70},
		{"rising towards crit: a quarter of the 30 points the projection loses", Past{Projected: ptr(0.9)}, 62.5},
		{"falling: no bonus", Past{Projected: ptr(0.1)}, 70},
		{"the day's high water level at 1.0: a tenth of 50", Past{DayHigh: ptr(1.0)}, 65},
		{"both", Past{Projected: ptr(0.9), DayHigh: ptr(1.0)}, 57.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkScore(c, tc.past); !nearScore(got, tc.want) {
				t.Errorf("checkScore = %g, want %g", got, tc.want)
			}
		})
	}
}

func TestProjection(t *testing.T) {
	if _, ok := projection([]float64{1, 2, 3, 4}); ok {
		t.Error("four points gave a trend")
	}
	if v, ok := projection([]float64{1, 2, 3, 4, 5}); !ok || !nearScore(v, 65) {
		t.Errorf("projection of 1..5 = %g, %v; want 65 (slope 1, 60 minutes past the last)", v, ok)
	}
	if v, ok := projection([]float64{3, 3, 3, 3, 3}); !ok || !nearScore(v, 3) {
		t.Errorf("flat projection = %g", v)
	}
}

func TestWeightedCapped(t *testing.T) {
	for _, tc := range []struct {
		name            string
		scores, weights []float64
		spread, want    float64
	}{
		{"empty is perfect", nil, nil, 25, 100},
		{"weighted mean", []float64{100, 80}, []float64{1, 3}, 25, 85},
		{"one failing check caps the rest", []float64{100, 100, 100, 0}, []float64{1, 1, 1, 1}, 25, 25},
		{"zero weights count nothing but still cap", []float64{100, 10}, []float64{1, 0}, 35, 45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := weightedCapped(tc.scores, tc.weights, tc.spread); !nearScore(got, tc.want) {
				t.Errorf("= %g, want %g", got, tc.want)
			}
		})
	}
}

func TestGrades(t *testing.T) {
	for score, want := range map[float64]string{100: "A", 90: "A", 89.9: "B", 80: "B", 70: "C", 69.9: "D", 60: "D", 59.9: "F", 0: "F"} {
		if got := Grade(score); got != want {
			t.Errorf("Grade(%g) = %s, want %s", score, got, want)
		}
	}
	if !Worse("D", "C") || Worse("C", "C") || Worse("A", "C") || !Worse("F", "D") {
		t.Error("Worse is wrong")
	}
}

func TestEvaluate(t *testing.T) {
	checks := []Check{
		{Component: "sink/a", Name: "lag", Value: 5500, Warn: 1000, Crit: 10000, Weight: 2},       // 70
		{Component: "sink/a", Name: "dead_letters", Value: 0, Warn: 0, Crit: 100},                 // 100
		{Component: "engine", Name: "disk_used", Value: 0.1, Warn: 0.7, Crit: 0.9},                // 100
		State("venue-1", "gate/venue-1", "link_down", true, "edge gone"),                          // 0
		{Site: "venue-1", Component: "gate/venue-1", Name: "backlog", Value: 0, Warn: 1, Crit: 2}, // 100
	}
	h := config.Health{Weights: map[string]float64{"sink": 3}}
	rep := Evaluate(time.Unix(0, 0), checks, h, nil)
	// sink/a: mean (70*2+100)/3 = 80, cap 70+25 = 95 → 80. engine 100.
	// cloud: sink weight 3 (configured), engine 3 (default):
	// (80*3 + 100*3)/6 = 90, cap 80+35 → 90, A.
	// venue-1: gate: mean 50, cap 0+25 → 25, F; site 25, F.
	// overall: mean 57.5, cap 25+10 = 35 → 35, F.
	want := map[string]float64{"cloud": 90, "venue-1": 25}
	for _, s := range rep.Sites {
		if !nearScore(s.Score, want[s.Name]) {
			t.Errorf("site %s = %g, want %g", s.Name, s.Score, want[s.Name])
		}
	}
	if !nearScore(rep.Score, 35) || rep.Grade != "F" {
		t.Errorf("overall %g %s, want 35 F", rep.Score, rep.Grade)
	}
	if len(rep.Risks) != 2 || rep.Risks[0].Check != "link_down" || rep.Risks[1].Check != "lag" {
		t.Fatalf("risks %+v, want link_down then lag", rep.Risks)
	}
	// Fixing link_down makes venue-1 100: impact 75. Fixing lag makes
	// sink/a 100 and the cloud 100: impact 10.
	if !nearScore(rep.Risks[0].Impact, 75) || !nearScore(rep.Risks[1].Impact, 10) {
		t.Errorf("impacts %g, %g; want 75, 10", rep.Risks[0].Impact, rep.Risks[1].Impact)
	}

	t.Run("overrides", func(t *testing.T) {
		h := config.Health{Checks: map[string]*config.CheckOverride{"sink.lag": {Warn: ptr(10000), Crit: ptr(20000)}}}
		rep := Evaluate(time.Unix(0, 0), checks[:2], h, nil)
		if rep.Score != 100 || len(rep.Risks) != 0 {
			t.Errorf("with sink.lag warn at 10000: %g, risks %+v", rep.Score, rep.Risks)
		}
	})
	t.Run("NaN is not JSON", func(t *testing.T) {
		rep := Evaluate(time.Unix(0, 0), []Check{{Component: "x", Name: "y", Value: math.NaN(), Warn: 1, Crit: 2}}, config.Health{}, nil)
		if rep.Sites[0].Components[0].Checks[0].Value != 0 {
			t.Error("NaN kept")
		}
	})
}
