package demo

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// place is where a ride starts or ends.
type place struct {
	code, name string
	lat, lon   float64
}

var places = map[string]place{
	"PEK": {"PEK", "Beijing Capital International Airport T3", 40.0522, 116.6126},
	"PKX": {"PKX", "Beijing Daxing International Airport", 39.5098, 116.4105},
	"BJV": {"BJV", "Beijing Olympic Village", 39.9934, 116.3837},
	"YQV": {"YQV", "Yanqing Olympic Village", 40.5310, 115.7967},
	"ZJV": {"ZJV", "Zhangjiakou Olympic Village", 40.9230, 115.4380},
	"MPC": {"MPC", "Main Media Centre", 40.0011, 116.3889},
	"HTL": {"HTL", "Games hotel, Beijing cluster", 39.9087, 116.4575},
}

func (p place) data() map[string]any {
	return map[string]any{"code": p.code, "name": p.name, "lat": p.lat, "lon": p.lon}
}

// km is the road distance between two places: the great circle plus a
// third for the roads.
func km(a, b place) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat, dlon := (b.lat-a.lat)*rad, (b.lon-a.lon)*rad
	h := math.Pow(math.Sin(dlat/2), 2) + math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Pow(math.Sin(dlon/2), 2)
	return 1.3 * 2 * r * math.Asin(math.Sqrt(h))
}

// ride emits the ride p orders once through the border, from the airport
// to where p is going: requested -> assigned -> picked-up -> completed,
// or cancelled on the way (about one in eight).
func (b *burst) ride(f *flightPlan, p *traveller, cleared time.Duration) {
	from, to := places[f.airport], places[p.destination]
	at := cleared + b.between(time.Minute, 5*time.Minute)
	o := map[string]any{
		"orderId":     fmt.Sprintf("RHP-%s-%06d", strings.ReplaceAll(f.date, "-", ""), b.order),
		"passengerId": p.id, "passengers": 1 + b.pick(2),
		"pickup": from.data(), "dropoff": to.data(),
		"requestedAt": b.stamp(at),
	}
	b.order++
	rev := 0
	// emit publishes the order's next state: o with extra set and the
	// fields in drop removed. Emitted maps are never changed afterwards.
	emit := func(status string, at time.Duration, extra map[string]any, drop ...string) {
		rev++
		o = clone(o)
		for _, k := range drop {
			delete(o, k)
		}
		for k, v := range extra {
			o[k] = v
		}
		o["status"], o["revision"], o["updatedAt"] = status, rev, b.stamp(at)
		b.emit("rides", at, o)
	}
	emit("requested", at, nil)
	cancel := b.pick(16)
	if cancel == 0 {
		emit("cancelled", at+b.between(2*time.Minute, 10*time.Minute),
			map[string]any{"cancelReason": []string{"NO_DRIVER", "PASSENGER"}[b.pick(2)]})
		return
	}
	eta := 3 + b.pick(12)
	at += b.between(20*time.Second, 6*time.Minute)
	emit("assigned", at, map[string]any{"driverId": fmt.Sprintf("DRV-%05d", b.pick(100000)),
		"vehiclePlate": b.plate(), "etaMinutes": eta})
	if cancel == 1 {
		emit("cancelled", at+b.between(time.Minute, 15*time.Minute),
			map[string]any{"cancelReason": []string{"NO_SHOW", "DRIVER"}[b.pick(2)]}, "etaMinutes")
		return
	}
	dist := km(from, to)
	trip := time.Duration(dist / 45 * float64(time.Hour)) // 45 km/h through the city
	at += time.Duration(eta)*time.Minute + b.between(0, 4*time.Minute)
	emit("picked-up", at, map[string]any{"etaMinutes": int(trip.Minutes())})
	at += trip + b.between(0, 10*time.Minute)
	fare := math.Round((13+2.3*dist)*2) / 2 // Beijing taxi tariff, to half a yuan
	emit("completed", at, map[string]any{"fare": map[string]any{"amount": fare, "currency": "CNY"}}, "etaMinutes")
}

// plate is a Beijing number plate: 京A·D12345 for a new-energy car (six
// characters), 京B·12345 for a licensed taxi.
func (b *burst) plate() string {
	if b.pick(3) == 0 {
		return fmt.Sprintf("京B·%05d", b.pick(100000))
	}
	return fmt.Sprintf("京A·%c%05d", "DF"[b.pick(2)], b.pick(100000))
}
