package demo

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// table is the medal table, counted per NOC.
type table struct {
	counts  map[string]*[3]int // gold, silver, bronze
	version int                // of the DT_MEDALS document
}

func newTable() *table { return &table{counts: map[string]*[3]int{}} }

// gamesCode is the RSC code of Games-level documents such as the medal table.
var gamesCode = strings.Repeat("-", 34)

// medalsPerDay is how many medal events an earlier competition day had.
const medalsPerDay = 7

func (t *table) award(noc, medal string) {
	if t.counts[noc] == nil {
		t.counts[noc] = new([3]int)
	}
	t.counts[noc][slices.Index([]string{"GOLD", "SILVER", "BRONZE"}, medal)]++
}

// medalStandings fills the table with earlier days' medals, then emits it
// after each of today's medal units becomes OFFICIAL.
func (d *day) medalStandings(units []*unit) {
	d.earlierMedals()
	var medalUnits []*unit
	for _, u := range units {
		if u.medal != noMedal {
			medalUnits = append(medalUnits, u)
		}
	}
	slices.SortStableFunc(medalUnits, func(a, b *unit) int { return cmp.Compare(a.official, b.official) })
	var at time.Duration
	for _, u := range medalUnits {
		for _, noc := range u.medallists() {
			d.medals.award(noc[0], noc[1])
		}
		d.medals.version++
		// Never before the previous table, which this one includes.
		at = max(at, u.official+d.between(time.Minute, 3*time.Minute))
		d.emit("medals", at, map[string]any{
			"header":    d.header(gamesCode, "DT_MEDALS", "MEDALS", d.medals.version, at),
			"afterUnit": u.code,
			"standings": d.medals.standings(),
		})
	}
}

// earlierMedals awards the medals of the competition days before this one.
func (d *day) earlierMedals() {
	for range d.index * medalsPerDay {
		disc := disciplines[d.pick(len(disciplines))]
		for _, medal := range []string{"GOLD", "SILVER", "BRONZE"} {
			d.medals.award(disc.field[d.weighted(len(disc.field))], medal)
		}
		d.medals.version++
	}
}

// medallists returns the unit's medals as {noc, medal} pairs.
func (u *unit) medallists() [][2]string {
	ranks := u.ranks(len(u.entries))
	if u.disc.scoring == byMatch {
		ranks = u.matchRanks()
	}
	var out [][2]string
	for i, r := range ranks {
		if medal := u.medalOf(r); medal != "" {
			out = append(out, [2]string{u.entries[i].noc, medal})
		}
	}
	return out
}

// standings is the table as DT_MEDALS lists it: by gold, then silver, then
// bronze; equal counts share a rank.
func (t *table) standings() []any {
	nocs := make([]string, 0, len(t.counts))
	for noc := range t.counts {
		nocs = append(nocs, noc)
	}
	slices.SortFunc(nocs, func(a, b string) int {
		ca, cb := t.counts[a], t.counts[b]
		return cmp.Or(cmp.Compare(cb[0], ca[0]), cmp.Compare(cb[1], ca[1]), cmp.Compare(cb[2], ca[2]), cmp.Compare(a, b))
	})
	rows := make([]any, len(nocs))
	rank := 0
	for i, noc := range nocs {
		c := t.counts[noc]
		if i == 0 || *c != *t.counts[nocs[i-1]] {
			rank = i + 1
		}
		rows[i] = map[string]any{
			"rank": rank, "rankTotal": t.rankTotal(noc), "noc": noc,
			"gold": c[0], "silver": c[1], "bronze": c[2], "total": c[0] + c[1] + c[2],
		}
	}
	return rows
}

// rankTotal ranks a NOC by its total number of medals.
func (t *table) rankTotal(noc string) int {
	total := func(c *[3]int) int { return c[0] + c[1] + c[2] }
	rank := 1
	for _, c := range t.counts {
		if total(c) > total(t.counts[noc]) {
			rank++
		}
	}
	return rank
}
