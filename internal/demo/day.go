// Package demo generates plausible Games data for `stadion demo feed`: one
// competition day of a Winter Games modelled on Beijing 2022, as events for
// the topics of the example configuration in examples/games. The
// demo commands (internal/cli) and the exchange benchmark import it. Feeder
// and Burster publish the data through the API client (internal/client).
package demo

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// Event is one piece of demo data destined for a topic.
type Event struct {
	Topic string         // "schedule", "results", "medals", "weather", "personnel"
	At    time.Duration  // offset from the start of the day, non-decreasing across the slice
	Data  map[string]any // the event data (becomes JSON), valid against the topic's schema
}

// The day starts at 06:00 Beijing time (UTC+8), when the accreditation
// centres open; At is measured from then. Header timestamps carry the
// absolute time.
const dayStart = 6 * time.Hour

var beijing = time.FixedZone("CST", 8*60*60)

// firstDay is the first full competition day of Beijing 2022.
var firstDay = time.Date(2022, time.February, 5, 0, 0, 0, 0, beijing)

// Day returns a deterministic competition day for the given seed and date (the ODF logicalDate),
// in time order: personnel registrations first (a few dozen, then some updates/suspensions of
// the same accreditation ids, to show sync-topic semantics), the day's schedule, weather
// observations every so often per venue, each event unit's results moving START_LIST -> LIVE
// (several intermediate updates) -> UNOFFICIAL -> OFFICIAL with increasing header.version,
// and medal-standings updates after each medal event's OFFICIAL result.
func Day(seed int64, date time.Time) []Event {
	d := newDay(seed, date)
	units := d.programme()
	d.personnel(units)
	d.schedule(units)
	d.weather(units)
	d.results(units)
	slices.SortStableFunc(d.events, func(a, b Event) int { return cmp.Compare(a.At, b.At) })
	return d.events
}

// day is the state of one generated day.
type day struct {
	rng    *rand.Rand
	date   string    // the logicalDate, YYYY-MM-DD
	start  time.Time // 06:00 local on date
	index  int       // competition days before this one, 0-15
	events []Event
	medals *table
}

func newDay(seed int64, date time.Time) *day {
	y, m, dd := date.Date()
	midnight := time.Date(y, m, dd, 0, 0, 0, 0, beijing)
	index := int(midnight.Sub(firstDay).Hours() / 24)
	return &day{
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x7374616469_6f6e)),
		date:   midnight.Format(time.DateOnly),
		start:  midnight.Add(dayStart),
		index:  min(max(index, 0), 15),
		medals: newTable(),
	}
}

func (d *day) emit(topic string, at time.Duration, data map[string]any) {
	d.events = append(d.events, Event{Topic: topic, At: at, Data: data})
}

// stamp formats the absolute time of offset at, as in ODF: milliseconds and
// the local offset.
func (d *day) stamp(at time.Duration) string {
	return d.start.Add(at).Format("2006-01-02T15:04:05.000Z07:00")
}

// header is the ODF message header of a document produced at offset at.
func (d *day) header(code, docType, source string, version int, at time.Duration) map[string]any {
	return map[string]any{
		"documentCode":    code,
		"documentType":    docType,
		"version":         version,
		"feedFlag":        "T",
		"logicalDate":     d.date,
		"competitionCode": "OWG2022",
		"source":          source,
		"timestamp":       d.stamp(at),
	}
}

// pick returns a random index below n; it has the shape choose and
// noc.person want.
func (d *day) pick(n int) int { return d.rng.IntN(n) }

// between returns a random duration in [lo, hi).
func (d *day) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(d.rng.Int64N(int64(hi-lo)))
}

// weighted picks an index below n, favouring low ones: fields list the
// strongest NOCs first.
func (d *day) weighted(n int) int {
	f := d.rng.Float64()
	return int(float64(n) * f * f)
}
