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
			comp.Score = round1(componentScore(rs, -1))
			comp.Grade = Grade(comp.Score)
			site.Components = append(site.Components, comp)
		}
		site.Score = round1(siteScore(site.Components, -1, 0))
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

// componentScore scores checks; the check at index perfect (if ≥ 0)
// counts as 100.
func componentScore(rs []CheckResult, perfect int) float64 {
	ss := make([]float64, len(rs))
	ws := make([]float64, len(rs))
	for i, r := range rs {
		ss[i], ws[i] = r.Score, r.Weight
		if i == perfect {
			ss[i] = 100
		}
	}
	return weightedCapped(ss, ws, componentSpread)
}

// siteScore scores components; component index comp (if ≥ 0) has the
// score alt instead.
func siteScore(cs []Component, comp int, alt float64) float64 {
	ss := make([]float64, len(cs))
	ws := make([]float64, len(cs))
	for i, c := range cs {
		ss[i], ws[i] = c.Score, c.Weight
		if i == comp {
			ss[i] = alt
		}
	}
	return weightedCapped(ss, ws, siteSpread)
}

// risks lists the site's checks below 100 with their impact.
func risks(site Site) []Risk {
	var out []Risk
	for ci, comp := range site.Components {
		for i, r := range comp.Checks {
			if r.Score >= 100 {
				continue
			}
			better := siteScore(site.Components, ci, componentScore(comp.Checks, i))
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
