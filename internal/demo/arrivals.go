package demo

import (
	"fmt"
	"time"
)

// route is a flight that brought Games people to Beijing in early
// February 2022 (charters got numbers of their own), and the NOCs whose
// teams usually flew on it.
type route struct {
	number, carrier, origin, airport string
	nocs                             []string
}

var routes = []route{
	{"CA932", "Air China", "FRA", "PEK", []string{"GER", "AUT", "SUI", "NED"}},
	{"CA938", "Air China", "LHR", "PEK", []string{"GBR", "NZL", "AUS"}},
	{"CA934", "Air China", "CDG", "PEK", []string{"FRA", "BEL", "ITA"}},
	{"CA982", "Air China", "JFK", "PEK", []string{"USA", "CAN"}},
	{"LH720", "Lufthansa", "FRA", "PEK", []string{"GER", "AUT", "SLO", "CZE"}},
	{"AY51", "Finnair", "HEL", "PEK", []string{"FIN", "SWE", "LAT"}},
	{"SK9535", "SAS Charter", "OSL", "PEK", []string{"NOR", "DEN", "SWE"}},
	{"SU204", "Aeroflot", "SVO", "PEK", []string{"ROC", "GEO"}},
	{"NH961", "ANA", "HND", "PEK", []string{"JPN"}},
	{"KE855", "Korean Air", "ICN", "PEK", []string{"KOR"}},
	{"UA9850", "United Charter", "SFO", "PEK", []string{"USA"}},
	{"AC9913", "Air Canada Charter", "YVR", "PEK", []string{"CAN"}},
	{"LX9188", "Swiss Charter", "ZRH", "PEK", []string{"SUI", "ITA"}},
	{"OS9071", "Austrian Charter", "VIE", "PEK", []string{"AUT", "HUN", "SVK"}},
	{"LO9407", "LOT Charter", "WAW", "PEK", []string{"POL", "CZE", "SVK"}},
	{"MU2101", "China Eastern", "SHA", "PKX", []string{"CHN"}},
	{"CZ3101", "China Southern", "CAN", "PKX", []string{"CHN"}},
	{"MU5107", "China Eastern", "PVG", "PKX", []string{"CHN", "KOR", "JPN"}},
	{"CZ8901", "China Southern", "URC", "PKX", []string{"CHN"}},
	{"AZ7790", "ITA Airways Charter", "FCO", "PKX", []string{"ITA", "SLO"}},
}

// flightPlan is one flight of the wave.
type flightPlan struct {
	route
	date                         string        // scheduled local date at the Games airport
	scheduled, estimated, actual time.Duration // landing, from 06:00
	manifest                     time.Duration // when the itinerary reaches the ADS
}

// schedule plans the wave's i-th flight. Beyond the known routes, flights
// are extra charters of the same carriers with numbers of their own.
func (b *burst) schedule(i int) *flightPlan {
	r := routes[i%len(routes)]
	if i >= len(routes) {
		r.number = fmt.Sprintf("%s%d", r.number[:2], 9000+i)
	}
	sched := (waveStart + b.between(0, waveSpan)).Truncate(5 * time.Minute)
	est := sched + b.between(-20*time.Minute, 40*time.Minute)
	f := &flightPlan{route: r, scheduled: sched, estimated: est,
		actual: est + b.between(-3*time.Minute, 3*time.Minute)}
	f.date = b.start.Add(sched).Format(time.DateOnly)
	f.manifest = max(0, sched-b.between(2*time.Hour, 3*time.Hour))
	return f
}

// traveller is one accredited passenger.
type traveller struct {
	id, family, given, noc, category string
	transport, destination           string
	revision                         int
}

// passenger picks who flies: mostly athletes and their team officials of
// the flight's NOCs, some officials, press and broadcasters.
func (b *burst) passenger(f *flightPlan) *traveller {
	code := f.nocs[b.pick(len(f.nocs))]
	p := &traveller{id: b.accreditationID(b.ids), noc: code, category: "ATHLETE"}
	switch n := b.pick(20); {
	case n >= 18:
		p.category = []string{"MEDIA", "BROADCASTER"}[b.pick(2)]
	case n == 17:
		p.category = []string{"IF", "TECHNICAL_OFFICIAL", "IOC"}[b.pick(3)]
	case n >= 12:
		p.category = "TEAM_OFFICIAL"
	}
	gender := "MW"[b.pick(2)]
	p.family, p.given = nocs[code].person(b.pick, gender)
	if p.category != "ATHLETE" && p.category != "TEAM_OFFICIAL" && b.pick(2) == 0 {
		p.noc = "" // press and officials travel without a team
	}
	p.transport, p.destination = b.onward(p.category)
	return p
}

// onward is how a passenger leaves the airport: teams by bus or train to
// their village, the IOC by car, press and officials often by ride.
func (b *burst) onward(category string) (mode, dest string) {
	switch category {
	case "ATHLETE", "TEAM_OFFICIAL":
		dest = []string{"BJV", "BJV", "YQV", "ZJV"}[b.pick(4)]
		mode = "BUS"
		if dest != "BJV" && b.pick(3) == 0 {
			mode = "TRAIN"
		} else if category == "TEAM_OFFICIAL" && b.pick(4) == 0 {
			mode = "RIDE"
		}
	case "IOC":
		return "CAR", "HTL"
	case "MEDIA", "BROADCASTER":
		dest = []string{"MPC", "HTL"}[b.pick(2)]
		mode = []string{"RIDE", "RIDE", "BUS"}[b.pick(3)]
	default:
		dest, mode = "HTL", []string{"RIDE", "BUS"}[b.pick(2)]
	}
	return mode, dest
}

// arrive emits a passenger's SCHEDULED, LANDED and ARRIVED events and
// returns when they were handed to Games transport.
func (b *burst) arrive(f *flightPlan, p *traveller) time.Duration {
	flight := map[string]any{
		"number": f.number, "carrier": f.carrier, "origin": f.origin, "destination": f.airport,
		"airport": f.airport, "date": f.date, "scheduled": b.stamp(f.scheduled), "estimated": b.stamp(f.estimated),
	}
	if f.airport == "PEK" {
		flight["terminal"] = "T3"
	}
	b.movement(p, f.manifest+b.between(0, time.Minute), "SCHEDULED", flight, nil)

	flight = clone(flight)
	flight["actual"] = b.stamp(f.actual)
	b.movement(p, f.actual+b.between(2*time.Minute, 12*time.Minute), "LANDED", flight, nil)

	cleared := f.actual + b.between(25*time.Minute, 90*time.Minute)
	border := map[string]any{
		"entryCleared": true, "customsCleared": true, "clearedAt": b.stamp(cleared),
		"desk": fmt.Sprintf("%c%d", 'A'+rune(b.pick(6)), 1+b.pick(24)),
	}
	b.movement(p, cleared, "ARRIVED", flight, border)
	return cleared
}

// movement emits one arrivals event of p.
func (b *burst) movement(p *traveller, at time.Duration, status string, flight, border map[string]any) {
	p.revision++
	m := map[string]any{
		"accreditationId": p.id, "familyName": p.family, "givenName": p.given, "category": p.category,
		"direction": "ARRIVAL", "flight": flight, "status": status,
		"revision": p.revision, "updatedAt": b.stamp(at),
	}
	if p.noc != "" {
		m["noc"] = p.noc
	}
	if border != nil {
		m["border"] = border
		m["transport"] = map[string]any{"mode": p.transport, "destination": p.destination}
	}
	b.emit("arrivals", at, m)
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
