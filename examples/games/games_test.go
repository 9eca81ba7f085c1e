package games_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stadion-dev/stadion/examples/games"
	"go.yaml.in/yaml/v3"
)

var topics = []string{"schedule", "results", "medals", "weather", "personnel", "arrivals", "rides", "admissions", "thumbnails"}

// systemPublished are topics only stadion itself publishes to (no client
// may), so their publishers list is empty.
var systemPublished = map[string]bool{"admissions": true}

// loadConfig parses stadion.yaml as plain YAML.
func loadConfig(t *testing.T) map[string]any {
	t.Helper()
	data, err := fs.ReadFile(games.FS, "stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("stadion.yaml: %v", err)
	}
	return cfg
}

func TestConfig(t *testing.T) {
	cfg := loadConfig(t)
	clients, _ := cfg["clients"].(map[string]any)
	for _, want := range []string{"oms", "odf", "core-app", "screens", "ads", "rhp"} {
		if _, ok := clients[want]; !ok {
			t.Errorf("clients.%s: missing", want)
		}
	}
	declared, _ := cfg["topics"].(map[string]any)
	checkSinks(t, cfg, declared)
	if len(declared) != len(topics) {
		t.Errorf("topics: got %d, want %d", len(declared), len(topics))
	}
	for _, name := range topics {
		t.Run(name, func(t *testing.T) {
			topic, ok := declared[name].(map[string]any)
			if !ok {
				t.Fatalf("topics.%s: missing", name)
			}
			checkTopic(t, name, topic, clients)
		})
	}
}

func checkTopic(t *testing.T, name string, topic, clients map[string]any) {
	schema, _ := topic["schema"].(string)
	if _, err := fs.Stat(games.FS, schema); err != nil {
		t.Errorf("topics.%s.schema: %v", name, err)
	}
	key, _ := topic["key"].(string)
	if topic["kind"] == "sync" && key == "" {
		t.Errorf("topics.%s.key: required for sync topics", name)
	}
	if key != "" && !strings.HasPrefix(key, "/") {
		t.Errorf("topics.%s.key: %q is not a JSON pointer", name, key)
	}
	for _, field := range []string{"publishers", "subscribers"} {
		list, _ := topic[field].([]any)
		if len(list) == 0 && !(field == "publishers" && systemPublished[name]) {
			t.Errorf("topics.%s.%s: empty", name, field)
		}
		for _, c := range list {
			if _, ok := clients[c.(string)]; !ok {
				t.Errorf("topics.%s.%s: %q is not a declared client", name, field, c)
			}
		}
	}
}

// sinks are the example's database sinks and the topic each drains.
var sinks = map[string]string{"arrivals-db": "arrivals", "rides-db": "rides"}

// checkSinks checks the sinks against the topics and databases (the full
// validation is internal/config's; this keeps the example honest about
// its own shape): each key column is a column, each column a JSON pointer
// that the topic's schema requires where it is part of the key.
func checkSinks(t *testing.T, cfg, topics map[string]any) {
	t.Helper()
	dbs, _ := cfg["databases"].(map[string]any)
	if url, _ := dbs["main"].(map[string]any)["url"].(string); !strings.HasPrefix(url, "sqlite://") {
		t.Errorf("databases.main.url: %q, want a sqlite:// file under --data", url)
	}
	declared, _ := cfg["sinks"].(map[string]any)
	if len(declared) != len(sinks) {
		t.Errorf("sinks: got %d, want %d", len(declared), len(sinks))
	}
	for name, topic := range sinks {
		s, ok := declared[name].(map[string]any)
		if !ok {
			t.Errorf("sinks.%s: missing", name)
			continue
		}
		if s["topic"] != topic || topics[topic] == nil {
			t.Errorf("sinks.%s.topic: %v, want the declared topic %s", name, s["topic"], topic)
		}
		if s["max_rate"] == nil || s["batch"] == nil {
			t.Errorf("sinks.%s: want batch and max_rate set", name)
		}
		columns, _ := s["columns"].(map[string]any)
		if _, ok := columns["status"]; !ok {
			t.Errorf("sinks.%s.columns: no status column", name)
		}
		for col, ptr := range columns {
			if p, _ := ptr.(string); !strings.HasPrefix(p, "/") {
				t.Errorf("sinks.%s.columns.%s: %q is not a JSON pointer", name, col, ptr)
			}
		}
		keys, _ := s["key"].([]any)
		if len(keys) == 0 {
			t.Errorf("sinks.%s.key: empty", name)
		}
		for _, k := range keys {
			ptr, ok := columns[k.(string)].(string)
			if !ok {
				t.Errorf("sinks.%s.key: %q is not a column", name, k)
				continue
			}
			// A key column must never be missing: drop it and expect a rejection.
			doc := example(t, topic)
			set(doc, ptr, nil)
			if compile(t, "schemas/"+topic+".json").Validate(doc) == nil {
				t.Errorf("sinks.%s.key: %s (%s) is not required by the schema", name, k, ptr)
			}
		}
	}
}

// compile compiles one schema file of the embedded FS, asserting formats.
func compile(t *testing.T, file string) *jsonschema.Schema {
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
	id, _ := doc.(map[string]any)["$id"].(string)
	if want := "https://stadion.dev/schemas/games/" + path.Base(file); id != want {
		t.Fatalf("%s: $id is %q, want %q", file, id, want)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return sch
}

// example reads a valid document from testdata as a generic JSON value.
func example(t *testing.T, topic string) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/" + topic + ".json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return doc.(map[string]any)
}

func TestExamplesValid(t *testing.T) {
	for _, topic := range topics {
		t.Run(topic, func(t *testing.T) {
			if err := compile(t, "schemas/"+topic+".json").Validate(example(t, topic)); err != nil {
				t.Error(err)
			}
		})
	}
}

// set replaces (or with value nil, deletes) the value at a /-separated
// path of doc.
func set(doc map[string]any, ptr string, value any) {
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	var cur any = doc
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			cur = c[index(p)]
		}
	}
	last := parts[len(parts)-1]
	switch c := cur.(type) {
	case map[string]any:
		if value == nil {
			delete(c, last)
		} else {
			c[last] = value
		}
	case []any:
		c[index(last)] = value
	}
}

func index(s string) int {
	var n int
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		panic(err)
	}
	return n
}

func TestSchemasReject(t *testing.T) {
	tests := []struct {
		name, topic, ptr string
		value            any // nil deletes
	}{
		{"results: unknown resultStatus", "results", "/resultStatus", "FINAL"},
		{"results: missing header", "results", "/header", nil},
		{"results: lower-case NOC", "results", "/competitors/0/noc", "jpn"},
		{"results: four-letter NOC", "results", "/competitors/1/noc", "GBRA"},
		{"results: rank zero", "results", "/competitors/0/rank", 0},
		{"results: unknown medal", "results", "/competitors/1/medal", "PLATINUM"},
		{"results: wrong documentType", "results", "/header/documentType", "DT_MEDALS"},
		{"results: extra field", "results", "/comment", "great game"},
		{"header: short documentCode", "results", "/header/documentCode", "CURWTEAM4-FNL-000200"},
		{"header: version zero", "results", "/header/version", 0},
		{"header: unknown feedFlag", "results", "/header/feedFlag", "X"},
		{"header: logicalDate not a date", "results", "/header/logicalDate", "20/02/2022"},
		{"header: timestamp not a date-time", "results", "/header/timestamp", "yesterday"},
		{"schedule: unknown status", "schedule", "/status", "ABANDONED"},
		{"schedule: missing start", "schedule", "/start", nil},
		{"schedule: bad session", "schedule", "/session", "alpine-1"},
		{"medals: missing standings", "medals", "/standings", nil},
		{"medals: negative gold", "medals", "/standings/0/gold", -1},
		{"medals: bad NOC", "medals", "/standings/2/noc", "RUS1"},
		{"weather: outdoor without snowTemperature", "weather", "/snowTemperature", nil},
		{"weather: indoor with wind", "weather", "/conditions", "INDOOR"},
		{"weather: humidity over 100", "weather", "/humidity", 104.2},
		{"personnel: bad accreditationId", "personnel", "/accreditationId", "104382"},
		{"personnel: unknown status", "personnel", "/status", "EXPIRED"},
		{"personnel: team official without NOC", "personnel", "/noc", nil},
		{"personnel: zone 7", "personnel", "/privileges/zones/1", 7},
		{"personnel: unknown category", "personnel", "/category", "FAN"},
		{"arrivals: bad accreditationId", "arrivals", "/accreditationId", "ACR-1"},
		{"arrivals: unknown status", "arrivals", "/status", "DIVERTED"},
		{"arrivals: airport not a Games airport", "arrivals", "/flight/airport", "TSN"},
		{"arrivals: bad flight number", "arrivals", "/flight/number", "SK 9535"},
		{"arrivals: scheduled not a date-time", "arrivals", "/flight/scheduled", "14:05"},
		{"arrivals: arrived without border", "arrivals", "/border", nil},
		{"arrivals: arrived but customs not cleared", "arrivals", "/border/customsCleared", false},
		{"arrivals: landed without actual time", "arrivals", "/flight/actual", nil},
		{"arrivals: departed as an arrival", "arrivals", "/status", "DEPARTED"},
		{"arrivals: team official without NOC", "arrivals", "/noc", nil},
		{"arrivals: unknown transport", "arrivals", "/transport/mode", "HELICOPTER"},
		{"rides: bad orderId", "rides", "/orderId", "147"},
		{"rides: unknown status", "rides", "/status", "en-route"},
		{"rides: completed without fare", "rides", "/fare", nil},
		{"rides: completed without driver", "rides", "/driverId", nil},
		{"rides: cancelled without reason", "rides", "/status", "cancelled"},
		{"rides: pickup outside Beijing", "rides", "/pickup/lat", 48.85},
		{"rides: fare in euros", "rides", "/fare/currency", "EUR"},
		{"rides: bad plate", "rides", "/vehiclePlate", "AB-123"},
		{"rides: extra field", "rides", "/rating", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := example(t, tt.topic)
			set(doc, tt.ptr, jsonValue(t, tt.value))
			if err := compile(t, "schemas/"+tt.topic+".json").Validate(doc); err == nil {
				t.Errorf("%s with %s = %v: valid, want rejected", tt.topic, tt.ptr, tt.value)
			}
		})
	}
}

// jsonValue turns a Go value into what jsonschema.UnmarshalJSON yields.
func jsonValue(t *testing.T, v any) any {
	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSharedDefinitions checks that the ODF topics define the header, unit
// and venue alike.
func TestSharedDefinitions(t *testing.T) {
	defs := map[string]map[string]any{}
	for _, topic := range []string{"schedule", "results", "medals", "weather"} {
		data, err := fs.ReadFile(games.FS, "schemas/"+topic+".json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Defs map[string]any `json:"$defs"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		defs[topic] = doc.Defs
	}
	for _, name := range []string{"header", "unit", "venue"} {
		var first any
		for topic, d := range defs {
			def, ok := d[name]
			switch {
			case !ok:
			case first == nil:
				first = def
			case !reflect.DeepEqual(first, def):
				t.Errorf("schemas/%s.json: $defs.%s differs from the other topics'", topic, name)
			}
		}
		if first == nil {
			t.Errorf("$defs.%s: defined nowhere", name)
		}
	}
}
