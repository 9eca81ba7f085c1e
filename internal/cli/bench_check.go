package cli

import (
	"fmt"
	"strconv"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

// check is a measurement beside its target. Targets are printed, never
// asserted: a missed one is news for a person, not a failure.
type check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	Target float64 `json:"target"`
	AtMost bool    `json:"at_most"` // the target is an upper bound
	Status string  `json:"status"`  // ok, MISSED, or n/a when not measured
	Note   string  `json:"note,omitempty"`
}

// newCheck judges value against target; a zero value was not measured.
func newCheck(name string, value float64, unit string, target float64, atMost bool, note string) check {
	c := check{Name: name, Value: value, Unit: unit, Target: target, AtMost: atMost, Note: note, Status: "ok"}
	switch {
	case value == 0:
		c.Status = "n/a"
	case atMost && value > target, !atMost && value < target:
		c.Status = "MISSED"
	}
	return c
}

func (c check) op() string {
	if c.AtMost {
		return "<="
	}
	return ">="
}

func (c check) format(v float64) string {
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if v >= 1000 || c.Unit == "" || c.Unit == "s" {
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if c.Unit == "" {
		return s
	}
	return s + " " + c.Unit
}

func (c check) value() string {
	if c.Status == "n/a" {
		return "n/a"
	}
	return c.format(c.Value)
}

func (c check) verdict() string {
	if c.Note == "" {
		return c.Status
	}
	return c.Status + " (" + c.Note + ")"
}

// exchangeChecks are the targets for one durability.
func exchangeChecks(o exchangeOptions, m *exchangeMode) []check {
	a, b, c, d, e, f := m.phase("a"), m.phase("b"), m.phase("c"), m.phase("d"), m.phase("e"), m.phase("f")
	var ratioNote, rateNote string
	if o.publishers != 64 {
		ratioNote = "target set for 64 publishers"
	}
	if o.rate != 2000 {
		rateNote = "target set for 2000/s"
	}
	if e.EventsPerSec < 0.95*o.rate {
		rateNote = join(rateNote, fmt.Sprintf("only %s/s achieved", cmdio.Thousands(e.EventsPerSec)))
	}
	rateNote = join(rateNote, "raw JetStream (f): "+f.lat(f.Latency.P99))
	return []check{
		newCheck("b/a  HTTP single / raw publish", ratio(b, a), "", 0.5, false, join(ratioNote, errNote(a, b))),
		newCheck("c/d  HTTP batch / raw async", ratio(c, d), "", 0.6, false, errNote(c, d)),
		newCheck(fmt.Sprintf("p99 of (e) at %g/s offered", o.rate), e.Latency.P99, "ms", 10, true, join(rateNote, errNote(e))),
		newCheck("idle RSS of stadion up", cmdio.MiB(m.IdleRSS), "MiB", 120, true, ""),
		newCheck("cold start to /readyz 200", m.ColdStartMS/1000, "s", 2, true, ""),
	}
}

func ratio(num, den phaseResult) float64 {
	if den.EventsPerSec == 0 {
		return 0
	}
	return num.EventsPerSec / den.EventsPerSec
}

// errNote mentions errors in the phases a check compares: their figures
// count only the requests that succeeded.
func errNote(ps ...phaseResult) string {
	var n int64
	for _, p := range ps {
		n += p.Errors
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed requests", n)
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
