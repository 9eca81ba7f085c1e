package demo

import (
	"cmp"
	"slices"
	"time"
)

// Burst returns a deterministic wave of flights landing at the Games
// airports on the given date (the opening ceremony was on 4 February
// 2022), for `stadion demo burst`. Every accredited passenger of every
// flight is an arrivals event that moves SCHEDULED (the itinerary, most
// of them published at once when the manifests arrive) -> LANDED ->
// ARRIVED (border and customs cleared, handed to Games transport). The
// passengers who take a ride order one through the ride-hailing platform:
// rides events requested -> assigned -> picked-up -> completed, a few
// cancelled. At is measured from 06:00 local time on date; events are in
// time order and each key's events in the order they happened.
func Burst(seed int64, date time.Time, flights int) []Event {
	d := newDay(seed, date)
	b := &burst{day: d, ids: map[string]bool{}, order: 100000 + d.pick(800000)}
	for i := range max(flights, 0) {
		b.flight(i)
	}
	slices.SortStableFunc(d.events, func(a, b Event) int { return cmp.Compare(a.At, b.At) })
	return d.events
}

// burst is the state of one generated wave of arrivals.
type burst struct {
	*day
	ids   map[string]bool // accreditation ids given out
	order int             // the next ride order's number
}

// The wave: flights are scheduled to land between 08:00 and 16:00, their
// manifests reach the ADS two to three hours before.
const (
	waveStart = 2 * time.Hour
	waveSpan  = 8 * time.Hour
)

// flight emits one flight's passengers and their rides.
func (b *burst) flight(i int) {
	f := b.schedule(i)
	for range 20 + b.pick(61) {
		p := b.passenger(f)
		arrived := b.arrive(f, p)
		if p.transport == "RIDE" {
			b.ride(f, p, arrived)
		}
	}
}
