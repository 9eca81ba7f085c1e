package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const deliveryBase = `
topics:
  arrivals: {key: /personId}
`

func parseDelivery(t *testing.T, doc string) (*Config, error) {
	t.Helper()
	return Parse([]byte(deliveryBase+doc), fstest.MapFS{}, ".")
}

func TestSinkDefaults(t *testing.T) {
	c, err := parseDelivery(t, `
sinks:
  arrivals-db:
    topic: arrivals
    key: [person_id]
    columns: {person_id: /personId, eta: /flight/eta}
    types: {eta: timestamp}
`)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sinks["arrivals-db"]
	if s.Database != DefaultDatabase || s.Table != "arrivals_db" || s.Batch.Size != 500 ||
		s.Batch.MaxWait.D() != 200*time.Millisecond || s.MaxAttempts != 5 || s.MaxRate != 0 {
		t.Errorf("defaults: %+v", s)
	}
	if got := c.Databases[DefaultDatabase].URL; got != "sqlite://stadion.db" {
		t.Errorf("default database: %q", got)
	}
	if got := c.SinkNames(); len(got) != 1 || got[0] != "arrivals-db" {
		t.Errorf("SinkNames: %v", got)
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"2000/s", 2000, true}, {"120/m", 2, true}, {"3600/h", 1, true}, {"0/s", 0, true}, {" 1.5/s ", 1.5, true},
		{"2000", 0, false}, {"2000/d", 0, false}, {"-1/s", 0, false}, {"x/s", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseRate(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestSinkErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown topic", "sinks:\n  s: {topic: nope, key: [a], columns: {a: /a}}", "sinks.s.topic: unknown topic"},
		{"unknown database", "sinks:\n  s: {topic: arrivals, database: x, key: [a], columns: {a: /a}}", "sinks.s.database: unknown database"},
		{"no key", "sinks:\n  s: {topic: arrivals, columns: {a: /a}}", "sinks.s.key: required"},
		{"key not a column", "sinks:\n  s: {topic: arrivals, key: [b], columns: {a: /a}}", "sinks.s.key[0]"},
		{"bad column name", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: /a, \"x;drop\": /x}}", "sinks.s.columns.x;drop"},
		{"bookkeeping column", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: /a, _seq: /x}}", "sinks.s.columns._seq"},
		{"bad pointer", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: a}}", "JSON pointer"},
		{"bad type", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: /a}, types: {a: varchar}}", "sinks.s.types.a: must be one of"},
		{"type of no column", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: /a}, types: {b: text}}", "sinks.s.types.b: not one of the columns"},
		{"bad table", "sinks:\n  s: {topic: arrivals, table: 1t, key: [a], columns: {a: /a}}", "sinks.s.table"},
		{"batch too big", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: /a}, batch: {size: 20000}}", "sinks.s.batch.size"},
		{"bad rate", "sinks:\n  s: {topic: arrivals, key: [a], columns: {a: /a}, max_rate: fast}", "invalid rate"},
		{"bad sink name", "sinks:\n  S!: {topic: arrivals, key: [a], columns: {a: /a}}", "sinks.S!: name"},
		{"bad database url", "databases:\n  main: {url: \"mysql://u:secret@h/db\"}", "databases.main.url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDelivery(t, tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestDatabaseURLs(t *testing.T) {
	for _, u := range []string{"sqlite://a.db", "sqlite:///var/lib/a.db", "postgres://u@h/db", "postgresql://h/db?sslmode=disable"} {
		if _, err := parseDelivery(t, "databases:\n  other: {url: \""+u+"\"}\n"); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
