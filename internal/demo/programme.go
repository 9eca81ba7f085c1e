package demo

import (
	"fmt"
	"strings"
	"time"
)

// medalKind says which medals a unit awards.
type medalKind int

const (
	noMedal    medalKind = iota
	podium               // an individual final: the first three
	goldGame             // winner gold, loser silver
	bronzeGame           // winner bronze
)

// unit is one event unit of the day: a race, a round of jumps, a match.
type unit struct {
	code    string // 34-character RSC code
	disc    *discipline
	ev      event
	venue   venue
	phase   phase
	medal   medalKind
	session string

	planned   time.Duration // planned start
	start     time.Duration // actual start, after any delay
	end       time.Duration
	official  time.Duration // when the result becomes OFFICIAL
	startList time.Duration // when the start list is published
	reason    string        // why the unit was delayed

	entries []*competitor // in start order
	marks   []mark        // individual units: one per entry
	legs    [][2]int      // matches: the score of each end or period
}

// programmeSize is how many disciplines compete on a demo day.
const programmeSize = 10

// programme draws the day's disciplines and plans their units.
func (d *day) programme() []*unit {
	var units []*unit
	for _, i := range d.rng.Perm(len(disciplines))[:programmeSize] {
		units = append(units, d.plan(&disciplines[i])...)
	}
	return units
}

// plan picks one of the discipline's events and plans its units.
func (d *day) plan(disc *discipline) []*unit {
	ev := disc.events[d.pick(len(disc.events))]
	delay, reason := d.delay(disc, ev)
	var units []*unit
	if disc.scoring == byMatch {
		units = d.planMatches(disc, ev)
	} else {
		units = d.planRace(disc, ev)
	}
	for i, u := range units {
		u.session = fmt.Sprintf("%s%02d", disc.code, 2*d.index+1+i)
		u.planned = disc.first - dayStart + time.Duration(i)*disc.every
		u.start, u.reason = u.planned+delay, reason
		u.end = u.start + disc.length
		u.official = u.end + d.between(5*time.Minute, 15*time.Minute)
		u.startList = u.start - time.Hour
		if i > 0 && disc.scoring != byMatch {
			u.startList = units[i-1].official + 2*time.Minute
		}
	}
	return units
}

// delay holds up some outdoor disciplines for the weather.
func (d *day) delay(disc *discipline, ev event) (time.Duration, string) {
	if venues[venueOf(disc, ev)].indoor || d.pick(4) > 0 {
		return 0, ""
	}
	reasons := []string{"Strong wind at the start", "Heavy snowfall", "Poor visibility", "Course preparation"}
	return time.Duration(6+d.pick(7)) * 5 * time.Minute, reasons[d.pick(len(reasons))]
}

// planRace plans an individual-scoring event: a final, sometimes after a
// qualification round whose best competitors make the final.
func (d *day) planRace(disc *discipline, ev event) []*unit {
	fin := d.newUnit(disc, ev, disc.final, podium, 1)
	if disc.qual.code == "" || d.pick(2) == 0 {
		fin.entries = d.entrants(disc, ev, ev.size)
		fin.marks = d.perform(fin)
		return []*unit{fin}
	}
	q := d.newUnit(disc, ev, disc.qual, noMedal, 1)
	q.entries = d.entrants(disc, ev, ev.size+6)
	q.marks = d.perform(q)
	fin.entries = qualifiers(q, ev.size)
	fin.marks = d.perform(fin)
	return []*unit{q, fin}
}

// planMatches plans two matches: either the bronze and gold medal games, or
// two round-robin games.
func (d *day) planMatches(disc *discipline, ev event) []*unit {
	teams := d.entrants(disc, ev, 4)
	var units []*unit
	if d.pick(5) < 2 {
		units = []*unit{
			d.newUnit(disc, ev, phase{code: "FNL-", name: "Bronze Medal Game"}, bronzeGame, 1),
			d.newUnit(disc, ev, phase{code: "FNL-", name: "Gold Medal Game"}, goldGame, 2),
		}
	} else {
		rr := phase{code: "RR--", name: "Round Robin"}
		n := 2*d.index + 1
		units = []*unit{d.newUnit(disc, ev, rr, noMedal, n), d.newUnit(disc, ev, rr, noMedal, n+1)}
	}
	for i, u := range units {
		u.entries = teams[2*i : 2*i+2]
		u.legs = d.playMatch(u)
	}
	return units
}

// newUnit is the unit numbered number within its event and phase.
func (d *day) newUnit(disc *discipline, ev event, ph phase, medal medalKind, number int) *unit {
	return &unit{
		code:  rsc(disc.code, ev.gender, ev.code, ph.code, number),
		disc:  disc,
		ev:    ev,
		venue: venues[venueOf(disc, ev)],
		phase: ph,
		medal: medal,
	}
}

// rsc builds a 34-character RSC code: discipline (3), gender (1), event
// (18), phase (4) and unit (8), padded with '-'.
func rsc(disc string, gender byte, ev, phase string, unit int) string {
	code := fmt.Sprintf("%s%c%-18s%s%04d00--", disc, gender, ev, phase, unit)
	return strings.ReplaceAll(code, " ", "-")
}

func venueOf(disc *discipline, ev event) string {
	if ev.venue != "" {
		return ev.venue
	}
	return disc.venue
}

// data is the unit as schedule and results documents describe it.
func (u *unit) data() map[string]any {
	return map[string]any{
		"discipline": u.disc.code,
		"gender":     string(u.ev.gender),
		"eventName":  u.ev.name,
		"phaseName":  u.phase.name,
		"medal":      u.medal != noMedal,
	}
}

// source is the code of the results system that produces the unit's
// documents, e.g. CURMTEAM4.
func (u *unit) source() string {
	return strings.TrimRight(u.code[:9], "-")
}
