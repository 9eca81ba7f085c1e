package demo

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stadion-dev/stadion/examples/games"
	"go.yaml.in/yaml/v3"
)

var (
	seeds = []int64{1, 2, 3, 42, 2022}
	dates = []time.Time{
		time.Date(2022, time.February, 5, 0, 0, 0, 0, time.UTC),  // the first competition day
		time.Date(2022, time.February, 12, 0, 0, 0, 0, time.UTC), // mid-Games
		time.Date(2026, time.March, 1, 9, 30, 0, 0, time.Local),  // any other day
	}
)

// schemas compiles the example Games' topic schemas, by topic, as the
// topics of stadion.yaml name them.
func schemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	data, err := fs.ReadFile(games.FS, "stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Topics map[string]struct{ Schema string }
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for topic, tc := range cfg.Topics {
		out[topic] = compile(t, tc.Schema)
	}
	return out
}

func compile(t testing.TB, file string) *jsonschema.Schema {
	t.Helper()
	f, err := games.FS.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return sch
}

// roundTrip is the event data as the server sees it: marshalled to JSON
// and read back.
func roundTrip(t testing.TB, data map[string]any) any {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDayValidates(t *testing.T) {
	sch := schemas(t)
	for _, date := range dates {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", date.Format(time.DateOnly), seed), func(t *testing.T) {
				for i, e := range Day(seed, date) {
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
}

func TestDayOrder(t *testing.T) {
	for _, seed := range seeds {
		events := Day(seed, dates[1])
		for i, e := range events {
			if e.At < 0 || e.At > 24*time.Hour {
				t.Errorf("seed %d: event %d at %v, outside the day", seed, i, e.At)
			}
			if i > 0 && e.At < events[i-1].At {
				t.Errorf("seed %d: event %d at %v, before event %d at %v", seed, i, e.At, i-1, events[i-1].At)
			}
		}
	}
}

func TestDaySize(t *testing.T) {
	for _, seed := range seeds {
		count := map[string]int{}
		events := Day(seed, dates[1])
		for _, e := range events {
			count[e.Topic]++
		}
		if len(events) < 300 || len(events) > 800 {
			t.Errorf("seed %d: %d events, want 300-800", seed, len(events))
		}
		for _, topic := range []string{"schedule", "results", "medals", "weather", "personnel"} {
			if count[topic] == 0 {
				t.Errorf("seed %d: no %s events", seed, topic)
			}
		}
	}
}

func TestDayDeterministic(t *testing.T) {
	date := dates[1]
	if !reflect.DeepEqual(Day(7, date), Day(7, date)) {
		t.Error("two days with seed 7 differ")
	}
	if reflect.DeepEqual(Day(7, date), Day(8, date)) {
		t.Error("seeds 7 and 8 give the same day")
	}
}

// statusOrder ranks result statuses; a unit's results never go back.
var statusOrder = map[string]int{"START_LIST": 0, "LIVE": 1, "INTERMEDIATE": 1, "UNOFFICIAL": 2, "OFFICIAL": 3}

func TestResultsReachOfficial(t *testing.T) {
	for _, seed := range seeds {
		docs := byDocument(Day(seed, dates[1]), "results")
		if len(docs) < 5 {
			t.Errorf("seed %d: results for %d units, want more", seed, len(docs))
		}
		for code, events := range docs {
			if first := events[0].Data["resultStatus"]; first != "START_LIST" {
				t.Errorf("seed %d: %s starts with %v, want START_LIST", seed, code, first)
			}
			if last := events[len(events)-1].Data["resultStatus"]; last != "OFFICIAL" {
				t.Errorf("seed %d: %s ends with %v, want OFFICIAL", seed, code, last)
			}
			if len(events) < 5 {
				t.Errorf("seed %d: %s has %d versions, want live updates", seed, code, len(events))
			}
			checkVersions(t, code, events)
			for i := 1; i < len(events); i++ {
				prev, cur := events[i-1].Data["resultStatus"].(string), events[i].Data["resultStatus"].(string)
				if statusOrder[cur] < statusOrder[prev] {
					t.Errorf("seed %d: %s goes from %s back to %s", seed, code, prev, cur)
				}
			}
		}
	}
}

func TestScheduleVersions(t *testing.T) {
	for code, events := range byDocument(Day(1, dates[1]), "schedule") {
		checkVersions(t, code, events)
		if events[0].Data["header"].(map[string]any)["documentType"] != "DT_SCHEDULE" {
			t.Errorf("%s: first document is not a DT_SCHEDULE", code)
		}
	}
}

// TestMedalsFollowResults checks that every medal unit's OFFICIAL result
// is followed by a medal table update, and that the table only grows.
func TestMedalsFollowResults(t *testing.T) {
	for _, seed := range seeds {
		official := map[string]time.Duration{}
		medalled := 0
		prevTotal := 0
		for _, e := range Day(seed, dates[1]) {
			switch e.Topic {
			case "results":
				unit := e.Data["unit"].(map[string]any)
				if e.Data["resultStatus"] == "OFFICIAL" && unit["medal"] == true {
					official[e.Data["header"].(map[string]any)["documentCode"].(string)] = e.At
				}
			case "medals":
				medalled++
				after := e.Data["afterUnit"].(string)
				if _, ok := official[after]; !ok {
					t.Errorf("seed %d: medal table at %v after %s, before its OFFICIAL result", seed, e.At, after)
				}
				total := medalCount(e.Data)
				if total <= prevTotal {
					t.Errorf("seed %d: medal table at %v has %d medals, had %d", seed, e.At, total, prevTotal)
				}
				prevTotal = total
			}
		}
		if medalled != len(official) {
			t.Errorf("seed %d: %d medal table updates for %d medal units", seed, medalled, len(official))
		}
	}
}

func medalCount(data map[string]any) int {
	n := 0
	for _, row := range data["standings"].([]any) {
		n += row.(map[string]any)["total"].(int)
	}
	return n
}

func TestPersonnelUpdates(t *testing.T) {
	for _, seed := range seeds {
		revisions := map[string][]int{}
		statuses := map[string]bool{}
		events := 0
		for _, e := range Day(seed, dates[1]) {
			if e.Topic != "personnel" {
				continue
			}
			events++
			id := e.Data["accreditationId"].(string)
			revisions[id] = append(revisions[id], e.Data["revision"].(int))
			statuses[e.Data["status"].(string)] = true
		}
		if events <= len(revisions) {
			t.Errorf("seed %d: %d personnel events for %d accreditations, want updates", seed, events, len(revisions))
		}
		if len(revisions) < 24 {
			t.Errorf("seed %d: %d accreditations, want a few dozen", seed, len(revisions))
		}
		if !statuses["SUSPENDED"] && !statuses["CANCELLED"] {
			t.Errorf("seed %d: no accreditation suspended or cancelled", seed)
		}
		for id, revs := range revisions {
			for i, r := range revs {
				if r != i+1 {
					t.Errorf("seed %d: %s has revisions %v, want 1, 2, ...", seed, id, revs)
					break
				}
			}
		}
	}
}

// byDocument groups a topic's events by header.documentCode, in order.
func byDocument(events []Event, topic string) map[string][]Event {
	out := map[string][]Event{}
	for _, e := range events {
		if e.Topic == topic {
			code := e.Data["header"].(map[string]any)["documentCode"].(string)
			out[code] = append(out[code], e)
		}
	}
	return out
}

// checkVersions checks that a document's header.version strictly increases.
func checkVersions(t *testing.T, code string, events []Event) {
	t.Helper()
	prev := 0
	for _, e := range events {
		v := e.Data["header"].(map[string]any)["version"].(int)
		if v <= prev {
			t.Errorf("%s: version %d after %d", code, v, prev)
		}
		prev = v
	}
}

func BenchmarkDay(b *testing.B) {
	date := dates[1]
	for i := range b.N {
		Day(int64(i), date)
	}
}
