package demo

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// mark is one competitor's performance in an individual unit.
type mark struct {
	value float64 // seconds or points, rounded as displayed
	irm   string  // invalid result mark (DNF, DNS) or empty
}

// results emits every unit's results documents, then the medal standings.
func (d *day) results(units []*unit) {
	for _, u := range units {
		if u.disc.scoring == byMatch {
			d.matchResults(u)
		} else {
			d.raceResults(u)
		}
	}
	d.medalStandings(units)
}

// raceResults emits an individual unit: the start list, live updates as
// competitors finish in start order, then the unofficial and official result.
func (d *day) raceResults(u *unit) {
	version := 0
	doc := func(status string, at time.Duration, done int, progress string) {
		version++
		comps := raceCompetitors(u, done, status == "OFFICIAL")
		d.emit("results", at, d.resultDoc(u, status, version, at, comps, progress))
	}
	n := len(u.entries)
	doc("START_LIST", u.startList, 0, "")
	updates := min(4+d.pick(5), n)
	for i := 1; i <= updates; i++ {
		done := (i*n + updates) / (updates + 1)
		at := u.start + (u.end-u.start)*time.Duration(i)/time.Duration(updates+1)
		doc("LIVE", at, done, fmt.Sprintf("%d of %d competed", done, n))
	}
	doc("UNOFFICIAL", u.end, n, "")
	doc("OFFICIAL", u.official, n, "")
}

// raceCompetitors lists the entries, with results for the first done.
func raceCompetitors(u *unit, done int, official bool) []any {
	ranks := u.ranks(done)
	comps := make([]any, len(u.entries))
	for i, c := range u.entries {
		m := c.data(i + 1)
		switch {
		case i >= done:
		case u.marks[i].irm != "":
			m["irm"] = u.marks[i].irm
		default:
			m["result"] = u.disc.format(u.marks[i].value)
			m["rank"] = ranks[i]
		}
		if medal := u.medalOf(ranks[i]); official && medal != "" {
			m["medal"] = medal
		}
		comps[i] = m
	}
	return comps
}

func (d *day) resultDoc(u *unit, status string, version int, at time.Duration, comps []any, progress string) map[string]any {
	doc := map[string]any{
		"header":       d.header(u.code, "DT_RESULT", u.source(), version, at),
		"resultStatus": status,
		"unit":         u.data(),
		"venue":        u.venue.data(),
		"competitors":  comps,
	}
	if progress != "" {
		doc["progress"] = progress
	}
	return doc
}

// perform decides how every entry of an individual unit does.
func (d *day) perform(u *unit) []mark {
	base := u.ev.base
	if u.phase.scale != 0 {
		base *= u.phase.scale
	}
	marks := make([]mark, len(u.entries))
	for i, c := range u.entries {
		q := 0.6*c.strength + 0.4*d.rng.Float64()
		switch {
		case d.rng.Float64() < u.disc.failRate():
			marks[i].irm = u.disc.failMark()
		case u.disc.scoring == byTime:
			marks[i].value = u.disc.round(base * (1 + 0.045*(1-q)))
		default:
			marks[i].value = u.disc.round(base * (0.72 + 0.28*q))
		}
	}
	return marks
}

// ranks ranks the first done entries that have a result; equal results
// share a rank. Entries without a rank get 0.
func (u *unit) ranks(done int) []int {
	var order []int
	for i := range min(done, len(u.marks)) {
		if u.marks[i].irm == "" {
			order = append(order, i)
		}
	}
	better := func(a, b int) int {
		if u.disc.scoring == byTime {
			return cmp.Compare(u.marks[a].value, u.marks[b].value)
		}
		return cmp.Compare(u.marks[b].value, u.marks[a].value)
	}
	slices.SortStableFunc(order, better)
	ranks := make([]int, len(u.entries))
	for pos, i := range order {
		ranks[i] = pos + 1
		if pos > 0 && better(order[pos-1], i) == 0 {
			ranks[i] = ranks[order[pos-1]]
		}
	}
	return ranks
}

// qualifiers returns the best n of a finished qualification round, in the
// final's start order: the best qualifier starts last.
func qualifiers(q *unit, n int) []*competitor {
	ranks := q.ranks(len(q.entries))
	var ranked []int
	for i, r := range ranks {
		if r > 0 {
			ranked = append(ranked, i)
		}
	}
	slices.SortStableFunc(ranked, func(a, b int) int { return ranks[b] - ranks[a] })
	ranked = ranked[max(0, len(ranked)-n):]
	out := make([]*competitor, len(ranked))
	for i, e := range ranked {
		out[i] = q.entries[e]
	}
	return out
}

// medalOf is the medal a final rank earns in the unit, if any.
func (u *unit) medalOf(rank int) string {
	switch {
	case u.medal == podium && rank >= 1 && rank <= 3:
		return []string{"GOLD", "SILVER", "BRONZE"}[rank-1]
	case u.medal == goldGame && rank == 1:
		return "GOLD"
	case u.medal == goldGame && rank == 2:
		return "SILVER"
	case u.medal == bronzeGame && rank == 1:
		return "BRONZE"
	}
	return ""
}

func (disc *discipline) failRate() float64 {
	if disc.code == "ALP" {
		return 0.08
	}
	return 0.02
}

// failMark is the invalid result mark of a competitor who fails: in judged
// sports they do not start, in races they do not finish.
func (disc *discipline) failMark() string {
	if disc.scoring == byPoints {
		return "DNS"
	}
	return "DNF"
}

func (disc *discipline) decimals() int {
	if disc.tenths {
		return 1
	}
	return 2
}

func (disc *discipline) round(v float64) float64 {
	p := math.Pow10(disc.decimals())
	return math.Round(v*p) / p
}

// format displays a result: points as they are, times as 34.32, 1:42.69 or
// 1:25:17.4.
func (disc *discipline) format(v float64) string {
	prec := disc.decimals()
	if disc.scoring == byPoints || v < 60 {
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	sec := strconv.FormatFloat(math.Mod(v, 60), 'f', prec, 64)
	if math.Mod(v, 60) < 10 {
		sec = "0" + sec
	}
	h, m := int(v)/3600, int(v)/60%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%s", h, m, sec)
	}
	return fmt.Sprintf("%d:%s", m, sec)
}
