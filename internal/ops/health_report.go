package ops

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// Report is one evaluation of every check: GET /v1/health.
type Report struct {
	At    time.Time `json:"at"`
	Score float64   `json:"score"`
	Grade string    `json:"grade"`
	Sites []Site    `json:"sites"`
	// Risks are the checks below 100, the largest impact first.
	Risks []Risk `json:"risks"`
	// Alerts are the health alerts firing now.
	Alerts []Alert `json:"alerts"`
}

// Site is the cloud or one venue.
type Site struct {
	Name       string      `json:"name"`
	Score      float64     `json:"score"`
	Grade      string      `json:"grade"`
	Components []Component `json:"components"`
}

// Component is one part of a site with its checks.
type Component struct {
	Name   string        `json:"name"`
	Kind   string        `json:"kind"`
	Score  float64       `json:"score"`
	Grade  string        `json:"grade"`
	Weight float64       `json:"weight"`
	Checks []CheckResult `json:"checks"`
}

// CheckResult is a check with its score and what history says.
type CheckResult struct {
	Check
	Score float64 `json:"score"`
	Past  Past    `json:"past"`
}

// Risk is a check that costs its site points.
type Risk struct {
	Site      string  `json:"site"`
	Component string  `json:"component"`
	Check     string  `json:"check"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit,omitempty"`
	Warn      float64 `json:"warn"`
	Crit      float64 `json:"crit"`
	Score     float64 `json:"score"`
	// Impact is the points the site would gain if this check were at 100.
	Impact float64 `json:"impact"`
	Detail string  `json:"detail,omitempty"`
}

// Evaluate scores checks as health configures, with past giving each
// check's history (nil: none).
func Evaluate(now time.Time, checks []Check, h config.Health, past func(Check) Past) Report {
	bySite := map[string]map[string][]CheckResult{}
	for _, c := range checks {
		if c.Site == "" {
			c.Site = SiteCloud
		}
		if c.Weight == 0 {
			c.Weight = 1
		}
		c.Warn, c.Crit, c.Weight = h.Override(c.ConfigKey(), c.Warn, c.Crit, c.Weight)
		c.Value = finite(c.Value)
		var p Past
		if past != nil && !c.NoHistory {
			p = past(c)
		}
		r := CheckResult{Check: c, Past: p, Score: round1(checkScore(c, p))}
		if bySite[c.Site] == nil {
			bySite[c.Site] = map[string][]CheckResult{}
		}
		bySite[c.Site][c.Component] = append(bySite[c.Site][c.Component], r)
	}
	rep := Report{At: now.UTC(), Sites: []Site{}, Risks: []Risk{}, Alerts: []Alert{}}
	for _, sn := range sortedKeys(bySite) {
		site := Site{Name: sn}
		for _, cn := range sortedKeys(bySite[sn]) {
			rs := bySite[sn][cn]
			slices.SortFunc(rs, func(a, b CheckResult) int { return cmp.Compare(a.Name, b.Name) })
			comp := Component{Name: cn, Kind: rs[0].Kind(), Checks: rs}
			comp.Weight = h.Weight(comp.Kind)
			comp.Score = round1(checkAgg(rs).score())
			comp.Grade = Grade(comp.Score)
			site.Components = append(site.Components, comp)
		}
		site.Score = round1(componentAgg(site.Components).score())
		site.Grade = Grade(site.Score)
		rep.Sites = append(rep.Sites, site)
		rep.Risks = append(rep.Risks, risks(site)...)
	}
	ss := make([]float64, len(rep.Sites))
	ws := make([]float64, len(rep.Sites))
	for i, s := range rep.Sites {
		ss[i], ws[i] = s.Score, 1
	}
	rep.Score = round1(weightedCapped(ss, ws, overallSpread))
	rep.Grade = Grade(rep.Score)
	slices.SortStableFunc(rep.Risks, func(a, b Risk) int {
		if c := cmp.Compare(b.Impact, a.Impact); c != 0 {
			return c
		}
		return cmp.Compare(a.Score, b.Score)
	})
	return rep
}

// agg is a weighted mean capped at the lowest score plus spread, kept so
// that replacing one score is O(1): impacts are computed for every check.
type agg struct {
	sum, wsum, spread float64
	low, low2         float64 // the lowest and second lowest scores
	lowAt             int
}

func newAgg(scores, weights []float64, spread float64) agg {
	a := agg{spread: spread, low: 100, low2: 100, lowAt: -1}
	for i, s := range scores {
		a.sum += s * weights[i]
		a.wsum += weights[i]
		switch {
		case s < a.low:
			a.low2, a.low, a.lowAt = a.low, s, i
		case s < a.low2:
			a.low2 = s
		}
	}
	return a
}

func (a agg) score() float64 { return a.with(-1, 0, 0, 0) }

// with is the score with score s (weight w) at index i replaced by alt.
func (a agg) with(i int, s, w, alt float64) float64 {
	sum, wsum, low := a.sum, a.wsum, a.low
	if i >= 0 {
		sum += (alt - s) * w
		if i == a.lowAt {
			low = a.low2
		}
		low = math.Min(low, alt)
	}
	mean := 100.0
	if wsum > 0 {
		mean = sum / wsum
	}
	return math.Min(mean, low+a.spread)
}

func checkAgg(rs []CheckResult) agg {
	ss := make([]float64, len(rs))
	ws := make([]float64, len(rs))
	for i, r := range rs {
		ss[i], ws[i] = r.Score, r.Weight
	}
	return newAgg(ss, ws, componentSpread)
}

func componentAgg(cs []Component) agg {
	ss := make([]float64, len(cs))
	ws := make([]float64, len(cs))
	for i, c := range cs {
		ss[i], ws[i] = c.Score, c.Weight
	}
	return newAgg(ss, ws, siteSpread)
}

// risks lists the site's checks below 100 with their impact: the points
// the site would gain if that check alone were at 100.
func risks(site Site) []Risk {
	var out []Risk
	sa := componentAgg(site.Components)
	for ci, comp := range site.Components {
		ca := checkAgg(comp.Checks)
		for i, r := range comp.Checks {
			if r.Score >= 100 {
				continue
			}
			better := sa.with(ci, comp.Score, comp.Weight, round1(ca.with(i, r.Score, r.Weight, 100)))
			out = append(out, Risk{
				Site: site.Name, Component: comp.Name, Check: r.Name, Value: r.Value, Unit: r.Unit,
				Warn: r.Warn, Crit: r.Crit, Score: r.Score, Impact: round1(math.Max(0, better-site.Score)), Detail: r.Detail,
			})
		}
	}
	return out
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
