package ops

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
)

// Inspection is one run of the daily inspection (docs/ops.md).
type Inspection struct {
	ID       string    `json:"id"` // 20261207T060000Z
	At       time.Time `json:"at"`
	Score    float64   `json:"score"`
	Grade    string    `json:"grade"`
	Sites    []SiteSum `json:"sites"`
	Findings []Finding `json:"findings"`
	Risks    []Risk    `json:"risks"`
	Trends   []Trend   `json:"trends"`
	Changes  Changes   `json:"changes"`
	// SLOs is false when no SLO source is wired (the row is skipped).
	SLOs bool `json:"slos_checked"`
}

// SiteSum is a site's score and its components' grades.
type SiteSum struct {
	Name       string            `json:"name"`
	Score      float64           `json:"score"`
	Grade      string            `json:"grade"`
	Components map[string]string `json:"components"` // name → grade
}

// Finding is one thing the inspection wants a person to look at.
type Finding struct {
	Code     string `json:"code"`     // water-level, stream-near-limit, replicas, venue, keys, dead-letters-old, lagging, slo-budget, topic-unread, sink-no-max-rate
	Severity string `json:"severity"` // high, medium, low
	Subject  string `json:"subject"`  // what it is about: "sink/results-db"
	Message  string `json:"message"`
}

// Key identifies a finding across reports.
func (f Finding) Key() string { return f.Code + " " + f.Subject }

// Trend is a water level over the last seven days (hourly means).
type Trend struct {
	Key    string    `json:"key"`
	Label  string    `json:"label"`
	Unit   string    `json:"unit,omitempty"`
	Now    float64   `json:"now"`
	Points []float64 `json:"points"` // oldest first
	Change float64   `json:"change"` // now minus the first point
}

// Changes is what differs from the previous report.
type Changes struct {
	Previous   string   `json:"previous,omitempty"` // its id
	ScoreDelta float64  `json:"score_delta"`
	New        []string `json:"new"`      // findings not in the previous report
	Resolved   []string `json:"resolved"` // findings gone since
}

// BudgetSource lists SLOs' remaining error budgets (*SLOs implements
// it).
type BudgetSource interface {
	Budgets() []Budget
}

// inspect builds an inspection from a fresh health evaluation, the
// engine's streams and the configuration.
func (in *Inspector) inspect(ctx context.Context, now time.Time, prev *Inspection) Inspection {
	rep := in.health.Evaluate(ctx)
	out := Inspection{ID: now.UTC().Format("20060102T150405Z"), At: now.UTC(), Score: rep.Score, Grade: rep.Grade,
		Findings: []Finding{}, Risks: rep.Risks, Trends: []Trend{}}
	if len(out.Risks) > 50 {
		out.Risks = out.Risks[:50]
	}
	for _, s := range rep.Sites {
		sum := SiteSum{Name: s.Name, Score: s.Score, Grade: s.Grade, Components: map[string]string{}}
		for _, c := range s.Components {
			sum.Components[c.Name] = c.Grade
		}
		out.Sites = append(out.Sites, sum)
	}
	out.Findings = append(out.Findings, checkFindings(rep)...)
	out.Findings = append(out.Findings, in.deadLetterFindings(ctx, now)...)
	out.Findings = append(out.Findings, configFindings(in.cfg)...)
	if in.budgets != nil {
		out.SLOs = true
		for _, b := range in.budgets.Budgets() {
			if b.Remaining < 0.25 {
				out.Findings = append(out.Findings, Finding{Code: "slo-budget", Severity: sev(b.Remaining <= 0), Subject: "slo/" + b.Name,
					Message: fmt.Sprintf("%.0f%% of the error budget left", 100*b.Remaining)})
			}
		}
	}
	out.Trends = in.trends(now, rep)
	slices.SortStableFunc(out.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(sevRank(a.Severity), sevRank(b.Severity)), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Subject, b.Subject))
	})
	out.Changes = changes(prev, out)
	return out
}

func sev(high bool) string {
	if high {
		return "high"
	}
	return "medium"
}

func sevRank(s string) int {
	return map[string]int{"high": 0, "medium": 1, "low": 2}[s]
}

// checkFindings turns the checks past their warning threshold into
// findings, coded by what they measure.
func checkFindings(rep Report) []Finding {
	var out []Finding
	for _, s := range rep.Sites {
		for _, c := range s.Components {
			for _, r := range c.Checks {
				if r.Score >= 100 {
					continue
				}
				code := findingCode(c.Kind, r.Name)
				subject := c.Name
				if s.Name != SiteCloud && !strings.HasSuffix(c.Name, "/"+s.Name) {
					subject = s.Name + ": " + c.Name
				}
				out = append(out, Finding{Code: code, Severity: sev(r.Score <= scoreAtCrit), Subject: subject,
					Message: describe(r)})
			}
		}
	}
	return out
}

func findingCode(kind, check string) string {
	switch {
	case kind == "engine" && strings.HasSuffix(check, "_used"):
		return "water-level"
	case kind == "stream" && check == "replicas_missing":
		return "replicas"
	case kind == "stream":
		return "stream-near-limit"
	case kind == "gate":
		return "venue"
	case kind == "keys":
		return "keys"
	case check == "idle":
		return "idle"
	case check == "lag" || check == "retrying":
		return "lagging"
	case check == "dead_letters":
		return "dead-letters"
	}
	return kind + "-" + strings.ReplaceAll(check, "_", "-")
}

// deadLetterFindings lists dead-letter streams whose oldest letter is more
// than a day old.
func (in *Inspector) deadLetterFindings(ctx context.Context, now time.Time) []Finding {
	var out []Finding
	l := in.js.ListStreams(ctx, jetstream.WithStreamListSubject("dlq.>"))
	for si := range l.Info() {
		st := si.State
		if st.Msgs == 0 || now.Sub(st.FirstTime) < 24*time.Hour {
			continue
		}
		out = append(out, Finding{Code: "dead-letters-old", Severity: "medium", Subject: si.Config.Name,
			Message: fmt.Sprintf("%d dead letters, the oldest from %s: redrive or drop them", st.Msgs, st.FirstTime.UTC().Format(time.RFC3339))})
	}
	return out
}

// configFindings are configuration smells: topics nobody reads, sinks
// without max_rate.
func configFindings(cfg *config.Config) []Finding {
	var out []Finding
	read := map[string]bool{}
	for _, n := range cfg.SinkNames() {
		read[cfg.Sinks[n].Topic] = true
		if cfg.Sinks[n].MaxRate == 0 {
			out = append(out, Finding{Code: "sink-no-max-rate", Severity: "low", Subject: "sink/" + n,
				Message: "no max_rate: a burst on " + cfg.Sinks[n].Topic + " is written to the database as fast as it arrives"})
		}
	}
	for _, n := range cfg.TopicNames() {
		if len(cfg.Topics[n].Subscribers) == 0 && !read[n] {
			out = append(out, Finding{Code: "topic-unread", Severity: "low", Subject: "topic/" + n,
				Message: "no subscribers and no sink: nothing reads it but the admin"})
		}
	}
	return out
}

// trends are the seven-day hourly water levels of the engine's storage
// and of every stream and check with history that is past its warning
// level, at most 12.
func (in *Inspector) trends(now time.Time, rep Report) []Trend {
	var out []Trend
	for _, s := range rep.Sites {
		for _, c := range s.Components {
			for _, r := range c.Checks {
				if r.NoHistory || (c.Kind != "engine" && r.Score >= 100) || len(out) >= 12 {
					continue
				}
				means, _ := in.health.History().Hourly(now, r.Key(), 7*24)
				pts := append(means, r.Value)
				out = append(out, Trend{Key: r.Key(), Label: c.Name + " " + r.Name, Unit: r.Unit, Now: r.Value, Points: pts, Change: r.Value - pts[0]})
			}
		}
	}
	return out
}

func changes(prev *Inspection, cur Inspection) Changes {
	ch := Changes{New: []string{}, Resolved: []string{}}
	before := map[string]bool{}
	if prev != nil {
		ch.Previous, ch.ScoreDelta = prev.ID, round1(cur.Score-prev.Score)
		for _, f := range prev.Findings {
			before[f.Key()] = true
		}
	}
	now := map[string]bool{}
	for _, f := range cur.Findings {
		now[f.Key()] = true
		if prev != nil && !before[f.Key()] {
			ch.New = append(ch.New, f.Key())
		}
	}
	for k := range before {
		if !now[k] {
			ch.Resolved = append(ch.Resolved, k)
		}
	}
	slices.Sort(ch.Resolved)
	return ch
}
