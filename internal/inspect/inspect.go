package inspect

import (
	"fmt"
	"sort"
)

// Options tune a review.
type Options struct {
	Estimates Estimates
	// Ignore suppresses findings: "rule-id" everywhere, "Kind/namespace/name"
	// for every rule of one object, or "Kind/namespace/name:rule-id".
	Ignore []string
}

// Report is the outcome of a review.
type Report struct {
	Score      int           `json:"score"`
	Grade      string        `json:"grade"`
	Findings   []Finding     `json:"findings"`
	Objects    []ObjectScore `json:"objects"`
	Suppressed int           `json:"suppressed"`
	Summary    Summary       `json:"summary"`
}

// ObjectScore is one workload's score.
type ObjectScore struct {
	Object   string `json:"object"`
	Score    int    `json:"score"`
	Grade    string `json:"grade"`
	Findings int    `json:"findings"`
	Source   Source `json:"source"`
}

// Summary counts what was read and found.
type Summary struct {
	Objects    int            `json:"objects"`
	Workloads  int            `json:"workloads"`
	Containers int            `json:"containers"`
	Runtimes   map[string]int `json:"runtimes"`
	ByCategory map[string]int `json:"by_category"`
	BySeverity map[string]int `json:"by_severity"`
}

// check collects the findings of one workload.
type check struct {
	inv *Inventory
	opt Options
	w   *Workload
	out []Finding
}

func (k *check) add(rule string, sev Severity, ct *container, format string, args ...any) {
	r, ok := RuleByID(rule)
	if !ok {
		panic("inspect: unknown rule " + rule)
	}
	f := Finding{Rule: rule, Category: r.Category, Severity: sev, Object: k.w.ID(), Message: fmt.Sprintf(format, args...), Fix: r.Fix, Source: &k.w.Source}
	if ct != nil {
		f.Container = ct.c.Name
	}
	k.out = append(k.out, f)
}

// Inspect reviews every workload of the inventory.
func Inspect(inv *Inventory, opt Options) *Report {
	if opt.Estimates.Threads == 0 {
		opt.Estimates = DefaultEstimates()
	}
	inv.finish()
	sup := newSuppressor(opt.Ignore)
	rep := &Report{Findings: []Finding{}, Objects: []ObjectScore{}, Summary: Summary{Objects: inv.Objects, Workloads: len(inv.Workloads),
		Runtimes: map[string]int{}, ByCategory: map[string]int{}, BySeverity: map[string]int{}}}
	for _, w := range inv.Workloads {
		k := &check{inv: inv, opt: opt, w: w}
		cts := inv.containers(w)
		for _, ct := range cts {
			rep.Summary.Containers++
			rt := ct.rt.kind
			if rt == runtimeUnknown {
				rt = "unknown"
			}
			rep.Summary.Runtimes[rt]++
			k.memory(ct)
			k.containerReview(ct)
		}
		k.workloadReview(cts)
		kept := 0
		for _, f := range k.out {
			if sup.suppressed(w, f) {
				rep.Suppressed++
				continue
			}
			rep.Findings = append(rep.Findings, f)
			rep.Summary.ByCategory[f.Category]++
			rep.Summary.BySeverity[f.Severity.String()]++
			kept++
		}
		s := objectScore(rep.Findings[len(rep.Findings)-kept:])
		rep.Objects = append(rep.Objects, ObjectScore{Object: w.ID(), Score: s, Grade: Grade(s), Findings: kept, Source: w.Source})
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Severity > b.Severity
	})
	rep.Score = overallScore(rep.Objects, rep.Findings)
	rep.Grade = Grade(rep.Score)
	return rep
}
