package demo

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/config"
)

// ceremony is the day of the Beijing 2022 opening ceremony.
var ceremony = time.Date(2022, time.February, 4, 0, 0, 0, 0, time.UTC)

func TestBurstValidates(t *testing.T) {
	sch := schemas(t)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			for i, e := range Burst(seed, ceremony, 30) {
				s, ok := sch[e.Topic]
				if !ok {
					t.Fatalf("event %d: unknown topic %q", i, e.Topic)
				}
				if err := s.Validate(roundTrip(t, e.Data)); err != nil {
					t.Errorf("event %d (%s at %v): %v", i, e.Topic, e.At, err)
				}
			}
		})
	}
}

func TestBurstOrderAndSize(t *testing.T) {
	for _, flights := range []int{0, 1, 3, 40, 60} {
		events := Burst(1, ceremony, flights)
		count := map[string]int{}
		for i, e := range events {
			count[e.Topic]++
			if i > 0 && e.At < events[i-1].At {
				t.Errorf("%d flights: event %d at %v, before event %d at %v", flights, i, e.At, i-1, events[i-1].At)
			}
		}
		if got := len(movements(events)); got < 20*flights || got > 80*flights {
			t.Errorf("%d flights: %d passengers, want 20-80 a flight", flights, got)
		}
		if flights >= 3 && (count["rides"] == 0 || count["arrivals"] < 10*count["rides"]/4) {
			t.Errorf("%d flights: %d arrivals and %d rides events", flights, count["arrivals"], count["rides"])
		}
	}
}

func TestBurstDeterministic(t *testing.T) {
	if !reflect.DeepEqual(Burst(7, ceremony, 10), Burst(7, ceremony, 10)) {
		t.Error("two bursts with seed 7 differ")
	}
	if reflect.DeepEqual(Burst(7, ceremony, 10), Burst(8, ceremony, 10)) {
		t.Error("seeds 7 and 8 give the same burst")
	}
}

// TestBurstArrivals: each passenger's movement goes SCHEDULED -> LANDED ->
// ARRIVED with revisions 1, 2, 3, and nobody flies twice.
func TestBurstArrivals(t *testing.T) {
	for _, seed := range seeds {
		byPerson := map[string]int{}
		for key, events := range movements(Burst(seed, ceremony, 40)) {
			var statuses []string
			for i, e := range events {
				statuses = append(statuses, e.Data["status"].(string))
				if rev := e.Data["revision"].(int); rev != i+1 {
					t.Errorf("seed %d: %s: revision %d at step %d", seed, key, rev, i+1)
				}
			}
			if want := []string{"SCHEDULED", "LANDED", "ARRIVED"}; !slices.Equal(statuses, want) {
				t.Errorf("seed %d: %s goes %v, want %v", seed, key, statuses, want)
			}
			byPerson[events[0].Data["accreditationId"].(string)]++
		}
		for id, n := range byPerson {
			if n > 1 {
				t.Errorf("seed %d: %s on %d flights", seed, id, n)
			}
		}
	}
}

// rideNext lists the statuses a ride may move to.
var rideNext = map[string][]string{
	"":          {"requested"},
	"requested": {"assigned", "cancelled"},
	"assigned":  {"picked-up", "cancelled"},
	"picked-up": {"completed"},
}

// TestBurstRides: every order follows the ride states to completed or
// cancelled, some are cancelled, and nobody orders a ride before they are
// through the border.
func TestBurstRides(t *testing.T) {
	for _, seed := range seeds {
		events := Burst(seed, ceremony, 40)
		arrived := map[string]time.Duration{}
		for _, e := range events {
			if e.Topic == "arrivals" && e.Data["status"] == "ARRIVED" {
				arrived[e.Data["accreditationId"].(string)] = e.At
			}
		}
		final := map[string]int{}
		for id, rides := range byKey(events, "rides", "/orderId") {
			prev := ""
			for _, e := range rides {
				status := e.Data["status"].(string)
				if !slices.Contains(rideNext[prev], status) {
					t.Errorf("seed %d: %s goes from %q to %q", seed, id, prev, status)
				}
				prev = status
			}
			final[prev]++
			passenger := rides[0].Data["passengerId"].(string)
			if at, ok := arrived[passenger]; !ok || at > rides[0].At {
				t.Errorf("seed %d: %s requested at %v by %s, who arrived at %v", seed, id, rides[0].At, passenger, at)
			}
		}
		if final["completed"] == 0 || final["cancelled"] == 0 || final["completed"] < 4*final["cancelled"] {
			t.Errorf("seed %d: rides end %v, want mostly completed and some cancelled", seed, final)
		}
		if len(final) != 2 {
			t.Errorf("seed %d: rides end %v, want only completed or cancelled", seed, final)
		}
	}
}

// TestBurstSinkKeys: the example's configuration (sinks included) is valid,
// and every burst event has every key column of its topic's sinks.
func TestBurstSinkKeys(t *testing.T) {
	cfg, err := config.Load(games.FS, "stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	events := Burst(3, ceremony, 20)
	for _, name := range cfg.SinkNames() {
		sc := cfg.Sinks[name]
		n := 0
		for _, e := range events {
			if e.Topic != sc.Topic {
				continue
			}
			n++
			for _, col := range sc.Key {
				if pointer(e.Data, sc.Columns[col]) == nil {
					t.Fatalf("sinks.%s: an event without key column %s (%s): %v", name, col, sc.Columns[col], e.Data)
				}
			}
		}
		if n == 0 {
			t.Errorf("sinks.%s: no burst events for topic %s", name, sc.Topic)
		}
	}
}

// movements groups the arrivals events by passenger and flight.
func movements(events []Event) map[string][]Event {
	out := map[string][]Event{}
	for _, e := range events {
		if e.Topic == "arrivals" {
			k := fmt.Sprint(pointer(e.Data, "/accreditationId"), "/", pointer(e.Data, "/flight/number"), "/", pointer(e.Data, "/flight/date"))
			out[k] = append(out[k], e)
		}
	}
	return out
}

// byKey groups a topic's events by the value at ptr, in order.
func byKey(events []Event, topic, ptr string) map[string][]Event {
	out := map[string][]Event{}
	for _, e := range events {
		if e.Topic == topic {
			k := fmt.Sprint(pointer(e.Data, ptr))
			out[k] = append(out[k], e)
		}
	}
	return out
}

// pointer resolves a JSON pointer of objects in data; nil if missing.
func pointer(data map[string]any, ptr string) any {
	var cur any = data
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	return cur
}

func BenchmarkBurst(b *testing.B) {
	for i := range b.N {
		Burst(int64(i), ceremony, 40)
	}
}
