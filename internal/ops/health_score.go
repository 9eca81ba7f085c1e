package ops

import (
	"math"
	"sort"
)

// The scoring formula (docs/ops.md "How a score is computed").
const (
	scoreAtCrit      = 40   // a check exactly at its critical threshold
	trendShare       = 0.25 // of the points the projected value would lose
	historyShare     = 0.10 // of the points the day's high water level would lose
	componentSpread  = 25   // a component scores at most its worst check + this
	siteSpread       = 35   // a site scores at most its worst component + this
	overallSpread    = 10   // the overall score is at most the worst site's + this
	trendMinPoints   = 5    // per-minute samples needed for a trend
	trendHorizonMins = 60   // the trend projects this far ahead
)

// baseScore is a value's score against its thresholds: 100 up to warn,
// falling linearly to 40 at crit, then to 0 at crit + (crit - warn).
func baseScore(v, warn, crit float64, lowerIsWorse bool) float64 {
	if lowerIsWorse {
		v, warn, crit = -v, -warn, -crit
	}
	span := crit - warn
	if span <= 0 {
		span = math.Max(math.Abs(warn)*0.1, 1e-9)
	}
	switch {
	case v <= warn:
		return 100
	case v <= warn+span:
		return 100 - (100-scoreAtCrit)*(v-warn)/span
	default:
		return math.Max(0, scoreAtCrit-scoreAtCrit*(v-warn-span)/span)
	}
}

// Past is what the history knows of one check: its projection
// trendHorizonMins ahead and its high water level over the last day.
type Past struct {
	Projected *float64 `json:"projected,omitempty"` // nil: not enough points
	DayHigh   *float64 `json:"day_high,omitempty"`  // 95th percentile of the day's minutes
}

// checkScore is a check's score with its trend and historical water level:
// base(v) minus a quarter of what the projection would lose and a tenth of
// what the day's high water level would lose.
func checkScore(c Check, p Past) float64 {
	b := baseScore(c.Value, c.Warn, c.Crit, c.LowerIsWorse)
	s := b
	if p.Projected != nil {
		s -= trendShare * math.Max(0, b-baseScore(*p.Projected, c.Warn, c.Crit, c.LowerIsWorse))
	}
	if p.DayHigh != nil {
		s -= historyShare * math.Max(0, b-baseScore(*p.DayHigh, c.Warn, c.Crit, c.LowerIsWorse))
	}
	return math.Max(0, s)
}

// weightedCapped is the weighted mean of scores, capped at the lowest
// score plus spread: one failing part cannot hide behind many good ones.
func weightedCapped(scores, weights []float64, spread float64) float64 {
	if len(scores) == 0 {
		return 100
	}
	var sum, wsum float64
	low := 100.0
	for i, s := range scores {
		w := weights[i]
		sum += s * w
		wsum += w
		low = math.Min(low, s)
	}
	mean := 100.0
	if wsum > 0 {
		mean = sum / wsum
	}
	return math.Min(mean, low+spread)
}

// Grade is the letter for a score: A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, F below
// (the grades of `stadion inspect k8s`).
func Grade(score float64) string {
	switch {
	case score >= 90:
		return "A"
	case score >= 80:
		return "B"
	case score >= 70:
		return "C"
	case score >= 60:
		return "D"
	default:
		return "F"
	}
}

// GradeRank orders grades: A is 0, F is 4, anything else -1.
func GradeRank(g string) int {
	switch g {
	case "A":
		return 0
	case "B":
		return 1
	case "C":
		return 2
	case "D":
		return 3
	case "F":
		return 4
	}
	return -1
}

// Worse reports whether grade g is worse than limit.
func Worse(g, limit string) bool { return GradeRank(g) > GradeRank(limit) }

// projection fits a least-squares line to the last points (one a minute,
// oldest first, the current value last) and returns the value
// trendHorizonMins after the last one.
func projection(points []float64) (float64, bool) {
	n := len(points)
	if n < trendMinPoints {
		return 0, false
	}
	var sx, sy, sxx, sxy float64
	for i, y := range points {
		x := float64(i)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	fn := float64(n)
	den := fn*sxx - sx*sx
	if den == 0 {
		return points[n-1], true
	}
	slope := (fn*sxy - sx*sy) / den
	icpt := (sy - slope*sx) / fn
	return icpt + slope*float64(n-1+trendHorizonMins), true
}

// percentile is the p-th percentile (0-1) of vs by nearest rank.
func percentile(vs []float64, p float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))], true
}
