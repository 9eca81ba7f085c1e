package demo

import (
	"math"
	"strings"
	"time"
)

// observeEvery is the interval between a venue's weather observations.
const observeEvery = 20 * time.Minute

// conditions are the outdoor sky conditions, in the order the weather
// drifts through them.
var conditions = []string{"CLEAR", "PARTLY_CLOUDY", "CLOUDY", "LIGHT_SNOW", "SNOW", "FOG"}

// sky is the drifting state of the weather at one venue.
type sky struct {
	wind      float64 // m/s
	direction int     // degrees
	condition int     // index into conditions
}

// weather emits observations at every venue in use, from two hours before
// its first unit until its last one is over.
func (d *day) weather(units []*unit) {
	var order []string
	from, to := map[string]time.Duration{}, map[string]time.Duration{}
	for _, u := range units {
		code := u.venue.code
		if _, ok := from[code]; !ok {
			order = append(order, code)
			from[code], to[code] = u.start, u.official
		}
		from[code], to[code] = min(from[code], u.start), max(to[code], u.official)
	}
	for _, code := range order {
		d.observe(venues[code], from[code]-2*time.Hour, to[code])
	}
}

// observe emits one venue's observations between from and to.
func (d *day) observe(v venue, from, to time.Duration) {
	s := sky{wind: 1 + 4*d.rng.Float64(), direction: d.pick(360), condition: d.pick(3)}
	code := v.main + strings.Repeat("-", 31)
	version := 0
	for at := from.Truncate(observeEvery) + observeEvery; at <= to; at += observeEvery {
		version++
		doc := map[string]any{
			"header":     d.header(code, "DT_WEATHER", "WEATHER", version, at),
			"venue":      v.data(),
			"observedAt": d.stamp(at),
		}
		if v.indoor {
			d.indoor(doc, v)
		} else {
			d.outdoor(doc, v, &s, at)
		}
		d.emit("weather", at, doc)
	}
}

// indoor fills in an observation in a hall: steady air and ice.
func (d *day) indoor(doc map[string]any, v venue) {
	doc["conditions"] = "INDOOR"
	doc["airTemperature"] = tenth(v.air + d.rng.NormFloat64()*0.5)
	doc["humidity"] = tenth(35 + d.rng.NormFloat64()*3)
	doc["iceTemperature"] = tenth(min(v.ice+d.rng.NormFloat64()*0.15, -0.5))
}

// outdoor fills in an observation outside: the day warms towards 15:00,
// and wind and sky drift.
func (d *day) outdoor(doc map[string]any, v venue, s *sky, at time.Duration) {
	hour := (dayStart + at).Hours()
	air := v.air + 4*math.Sin(2*math.Pi*(hour-9)/24) + d.rng.NormFloat64()*0.4
	s.wind = min(max(s.wind+d.rng.NormFloat64()*0.8, 0), 20)
	s.direction = (s.direction + int(d.rng.NormFloat64()*20) + 360) % 360
	if d.pick(6) == 0 {
		s.condition = min(max(s.condition+d.pick(3)-1, 0), len(conditions)-1)
	}
	doc["conditions"] = conditions[s.condition]
	doc["airTemperature"] = tenth(air)
	doc["humidity"] = tenth(min(max(55+float64(s.condition)*6+d.rng.NormFloat64()*5, 10), 100))
	doc["windSpeed"] = tenth(s.wind)
	doc["windDirection"] = s.direction
	doc["snowTemperature"] = tenth(min(air-1.5-2*d.rng.Float64(), -0.5))
}

// tenth rounds to one decimal, as the weather stations report.
func tenth(v float64) float64 {
	return math.Round(v*10)/10 + 0 // + 0 turns -0 into 0
}
