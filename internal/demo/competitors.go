package demo

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// competitor is an athlete or a team.
type competitor struct {
	code, name, noc string
	team            bool
	family, given   string // athletes only
	gender          byte   // athletes only: 'M' or 'W'
	strength        float64
}

// data is the competitor as a results document lists it, before any result.
func (c *competitor) data(order int) map[string]any {
	kind := "A"
	if c.team {
		kind = "T"
	}
	return map[string]any{"order": order, "code": c.code, "type": kind, "noc": c.noc, "name": c.name}
}

// entrants draws n competitors for an event from the discipline's field,
// strong NOCs more often, at most perNOC of each.
func (d *day) entrants(disc *discipline, ev event, n int) []*competitor {
	count := map[string]int{}
	names := map[string]bool{}
	var out []*competitor
	for len(out) < n {
		var open []string
		for _, code := range disc.field {
			if count[code] < ev.perNOC() {
				open = append(open, code)
			}
		}
		code := open[d.weighted(len(open))]
		count[code]++
		c := d.newCompetitor(disc, ev, code, count[code], names)
		rank := slices.Index(disc.field, code)
		c.strength = 0.7*(1-float64(rank)/float64(len(disc.field))) + 0.3*d.rng.Float64()
		out = append(out, c)
	}
	return out
}

// perNOC is how many entries one NOC may have in the event.
func (ev event) perNOC() int {
	if ev.quota > 0 {
		return ev.quota
	}
	return 3
}

func (d *day) newCompetitor(disc *discipline, ev event, code string, nth int, taken map[string]bool) *competitor {
	n := nocs[code]
	if ev.teams {
		name := n.name
		if ev.perNOC() > 1 {
			name = fmt.Sprintf("%s %d", n.name, nth)
		}
		team := fmt.Sprintf("%s%c%s--%s%02d", disc.code, ev.gender, ev.code, code, nth)
		return &competitor{code: team, name: name, noc: code, team: true}
	}
	for {
		family, given := n.person(d.pick, ev.gender)
		name := strings.ToUpper(family) + " " + given
		if !taken[code+name] {
			taken[code+name] = true
			return &competitor{code: athleteCode(code, name), name: name, noc: code,
				family: family, given: given, gender: ev.gender}
		}
	}
}

// athleteCode derives a stable 7-digit code from the athlete's NOC and name,
// so that the same made-up athlete keeps a code across units and days.
func athleteCode(noc, name string) string {
	h := fnv.New32a()
	h.Write([]byte(noc + "/" + name))
	return fmt.Sprintf("%07d", 1000000+h.Sum32()%9000000)
}
