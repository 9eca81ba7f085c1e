package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 5-field cron schedule (minute hour day-of-month month
// day-of-week), evaluated in UTC. Fields take *, N, A-B, */S, A-B/S and
// comma lists; day-of-week 0 and 7 are Sunday. As in Vixie cron, when both
// day fields are restricted a day matching either is taken.
type Cron struct {
	fields  [5]uint64 // bit i set: value i allowed
	domStar bool
	dowStar bool
}

var cronRanges = [5]struct{ lo, hi int }{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}

// ParseCron parses a cron expression such as "*/5 * * * *".
func ParseCron(expr string) (*Cron, error) {
	parts := strings.Fields(expr)
	if len(parts) != 5 {
		return nil, fmt.Errorf("want 5 fields (minute hour day month weekday), e.g. \"*/5 * * * *\", not %q", expr)
	}
	c := &Cron{domStar: parts[2] == "*", dowStar: parts[4] == "*"}
	for i, p := range parts {
		bits, err := cronField(p, cronRanges[i].lo, cronRanges[i].hi)
		if err != nil {
			return nil, fmt.Errorf("cron field %d %q: %w", i+1, p, err)
		}
		c.fields[i] = bits
	}
	if c.fields[4]&(1<<7) != 0 {
		c.fields[4] |= 1
	}
	return c, nil
}

func cronField(s string, lo, hi int) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", stepStr)
			}
			step = n
		}
		a, b, err := cronRange(rng, lo, hi, hasStep)
		if err != nil {
			return 0, err
		}
		for v := a; v <= b; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func cronRange(s string, lo, hi int, hasStep bool) (int, int, error) {
	if s == "*" {
		return lo, hi, nil
	}
	as, bs, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(as)
	if err != nil || a < lo || a > hi {
		return 0, 0, fmt.Errorf("%q is not a number from %d to %d", as, lo, hi)
	}
	if !isRange {
		if hasStep {
			return a, hi, nil
		}
		return a, a, nil
	}
	b, err := strconv.Atoi(bs)
	if err != nil || b < a || b > hi {
		return 0, 0, fmt.Errorf("bad range %q", s)
	}
	return a, b, nil
}

// Next returns the first minute strictly after t that the schedule
// matches (zero when none within five years).
func (c *Cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	for limit := t.AddDate(5, 0, 0); t.Before(limit); {
		switch {
		case !c.has(3, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case !c.has(1, t.Hour()):
			t = t.Truncate(time.Hour).Add(time.Hour)
		case !c.has(0, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c *Cron) has(field, v int) bool { return c.fields[field]&(1<<v) != 0 }

func (c *Cron) dayMatches(t time.Time) bool {
	dom, dow := c.has(2, t.Day()), c.has(4, int(t.Weekday()))
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}
