package rig

import (
	"strconv"
)

// Check is a measurement beside its target. Targets are printed, never
// asserted: a missed one is news for a person, not a failure.
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	Target float64 `json:"target"`
	AtMost bool    `json:"at_most"` // the target is an upper bound
	Status string  `json:"status"`  // ok, MISSED, or n/a when not measured
	Note   string  `json:"note,omitempty"`
}

// NewCheck judges value against target; a zero value was not measured.
func NewCheck(name string, value float64, unit string, target float64, atMost bool, note string) Check {
	c := Check{Name: name, Value: value, Unit: unit, Target: target, AtMost: atMost, Note: note, Status: "ok"}
	switch {
	case value == 0:
		c.Status = "n/a"
	case atMost && value > target, !atMost && value < target:
		c.Status = "MISSED"
	}
	return c
}

func (c Check) Op() string {
	if c.AtMost {
		return "<="
	}
	return ">="
}

func (c Check) Format(v float64) string {
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if v >= 1000 || c.Unit == "" || c.Unit == "s" {
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if c.Unit == "" {
		return s
	}
	return s + " " + c.Unit
}

// Shown is the value as printed: n/a when not measured.
func (c Check) Shown() string {
	if c.Status == "n/a" {
		return "n/a"
	}
	return c.Format(c.Value)
}

func (c Check) Verdict() string {
	if c.Note == "" {
		return c.Status
	}
	return c.Status + " (" + c.Note + ")"
}

func Join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
