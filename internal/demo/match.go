package demo

import (
	"fmt"
	"strconv"
	"time"
)

// playMatch decides a match end by end (curling) or half-period by
// half-period (ice hockey), with an extra end or overtime if it is tied.
func (d *day) playMatch(u *unit) [][2]int {
	a, b := u.entries[0], u.entries[1]
	legs := make([][2]int, u.disc.legs)
	for i := range legs {
		legs[i] = d.playLeg(u, a.strength-b.strength)
	}
	if total := sum(legs, len(legs)); total[0] == total[1] {
		extra := [2]int{}
		extra[d.pick(2)] = 1
		legs = append(legs, extra)
	}
	return legs
}

// playLeg scores one end or half-period; edge > 0 favours the first team.
func (d *day) playLeg(u *unit, edge float64) [2]int {
	var score [2]int
	if u.disc.code == "CUR" {
		if d.rng.Float64() >= u.ev.base { // a blank end
			return score
		}
		side := 1
		if d.rng.Float64() < 0.5+0.25*edge {
			side = 0
		}
		score[side] = []int{1, 1, 1, 1, 1, 1, 2, 2, 2, 3}[d.pick(10)]
		return score
	}
	for i, p := range []float64{u.ev.base * (1 + edge), u.ev.base * (1 - edge)} {
		for range 3 {
			if d.rng.Float64() < p/3 {
				score[i]++
			}
		}
	}
	return score
}

// sum totals the first n legs.
func sum(legs [][2]int, n int) [2]int {
	var total [2]int
	for _, l := range legs[:n] {
		total[0] += l[0]
		total[1] += l[1]
	}
	return total
}

// matchResults emits a match: the start list, an update after every end or
// half-period (INTERMEDIATE at the breaks), then the final result.
func (d *day) matchResults(u *unit) {
	version := 0
	doc := func(status string, at time.Duration, played int, progress string) {
		version++
		comps := matchCompetitors(u, played, status)
		d.emit("results", at, d.resultDoc(u, status, version, at, comps, progress))
	}
	doc("START_LIST", u.startList, -1, "")
	n := len(u.legs)
	for i := 1; i <= n; i++ {
		at := u.start + (u.end-u.start)*time.Duration(i)/time.Duration(n+1)
		status := "LIVE"
		if u.isBreak(i) {
			status = "INTERMEDIATE"
		}
		doc(status, at, i, u.legName(i))
	}
	doc("UNOFFICIAL", u.end, n, "")
	doc("OFFICIAL", u.official, n, "")
}

// matchCompetitors lists both teams with their score after played legs
// (none before the start); ranks and medals once the result is final.
func matchCompetitors(u *unit, played int, status string) []any {
	total := sum(u.legs, max(played, 0))
	final := status == "UNOFFICIAL" || status == "OFFICIAL"
	comps := make([]any, 2)
	for i, c := range u.entries {
		m := c.data(i + 1)
		if played >= 0 {
			m["result"] = strconv.Itoa(total[i])
		}
		rank := u.matchRanks()[i]
		if final {
			m["rank"] = rank
		}
		if medal := u.medalOf(rank); status == "OFFICIAL" && medal != "" {
			m["medal"] = medal
		}
		comps[i] = m
	}
	return comps
}

// matchRanks ranks the two teams by their final score.
func (u *unit) matchRanks() []int {
	if total := sum(u.legs, len(u.legs)); total[0] > total[1] {
		return []int{1, 2}
	}
	return []int{2, 1}
}

// legName says where a match stands after leg i.
func (u *unit) legName(i int) string {
	switch {
	case u.disc.code == "CUR" && i > u.disc.legs:
		return "Extra end"
	case u.disc.code == "CUR":
		return fmt.Sprintf("End %d of %d", i, u.disc.legs)
	case i > u.disc.legs:
		return "Overtime"
	case i%2 == 1:
		return fmt.Sprintf("Period %d, 10:00", (i+1)/2)
	}
	return fmt.Sprintf("End of period %d", i/2)
}

// isBreak reports whether leg i ends at a break in play: the fifth-end break
// in curling, the intermissions in ice hockey.
func (u *unit) isBreak(i int) bool {
	if u.disc.code == "CUR" {
		return i == u.disc.legs/2
	}
	return i%2 == 0 && i < u.disc.legs
}
