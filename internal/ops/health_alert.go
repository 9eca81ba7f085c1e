package ops

import (
	"cmp"
	"fmt"
	"slices"
)

// alerts fires a "health" alert for each site and component graded worse
// than health.alert_below, resolves those that recovered, and returns the
// firing ones. Called with h.mu held.
func (h *Health) alerts(r Report) []Alert {
	now := map[string]Alert{}
	if h.cfg.AlertBelow != "off" {
		for _, s := range r.Sites {
			for _, c := range s.Components {
				if Worse(c.Grade, h.cfg.AlertBelow) {
					a := componentAlert(s, c)
					now[a.ID] = a
				}
			}
			if Worse(s.Grade, h.cfg.AlertBelow) {
				a := siteAlert(s)
				now[a.ID] = a
			}
		}
	}
	for id, a := range now {
		if old, ok := h.firing[id]; ok {
			a.StartsAt = old.StartsAt
			now[id] = a
			if old.Severity == a.Severity {
				continue
			}
		}
		h.log.Warn("health alert", "id", id, "summary", a.Summary)
		if h.alerter != nil {
			h.alerter.Fire(a)
		}
	}
	for id := range h.firing {
		if _, ok := now[id]; !ok {
			h.log.Info("health alert resolved", "id", id)
			if h.alerter != nil {
				h.alerter.Resolve(id)
			}
		}
	}
	h.firing = now
	out := make([]Alert, 0, len(now))
	for _, a := range now {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Alert) int { return cmp.Compare(a.ID, b.ID) })
	h.m.alerts.Set(float64(len(out)))
	return out
}

func severity(grade string) string {
	if grade == "F" {
		return "page"
	}
	return "ticket"
}

// worst is the component's lowest-scoring check.
func worst(c Component) CheckResult {
	w := c.Checks[0]
	for _, r := range c.Checks[1:] {
		if r.Score < w.Score {
			w = r
		}
	}
	return w
}

func componentAlert(s Site, c Component) Alert {
	w := worst(c)
	return Alert{
		ID: "health/" + s.Name + "/" + c.Name, Kind: "health", Severity: severity(c.Grade),
		Site: s.Name, Component: c.Name, Check: w.Name,
		Summary:  fmt.Sprintf("%s at %s is %s (score %.0f): %s", c.Name, s.Name, c.Grade, c.Score, describe(w)),
		Labels:   map[string]string{"grade": c.Grade},
		StartsAt: nowUTC(),
	}
}

func siteAlert(s Site) Alert {
	wc := s.Components[0]
	for _, c := range s.Components[1:] {
		if c.Score < wc.Score {
			wc = c
		}
	}
	w := worst(wc)
	return Alert{
		ID: "health/" + s.Name, Kind: "health", Severity: severity(s.Grade),
		Site: s.Name, Component: wc.Name, Check: w.Name,
		Summary:  fmt.Sprintf("site %s is %s (score %.0f); worst: %s %s", s.Name, s.Grade, s.Score, wc.Name, describe(w)),
		Labels:   map[string]string{"grade": s.Grade},
		StartsAt: nowUTC(),
	}
}

// describe says what a check measured against which threshold.
func describe(r CheckResult) string {
	op, th := "≥", r.Crit
	if r.Score > scoreAtCrit {
		op, th = ">", r.Warn
	}
	if r.LowerIsWorse {
		op = map[string]string{"≥": "≤", ">": "<"}[op]
	}
	s := fmt.Sprintf("%s = %.4g%s (%s %g)", r.Name, r.Value, unitSuffix(r.Unit), op, th)
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

func unitSuffix(u string) string {
	if u == "" || u == "count" || u == "events" {
		return ""
	}
	return " " + u
}
