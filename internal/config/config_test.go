package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var testFS = fstest.MapFS{
	"cfg/schemas/lap.json": {Data: []byte(`{"type":"object"}`)},
}

const validYAML = `
durability: fast
engine:
  max_memory: 64MiB
  max_disk: 2GB
exchange:
  max_body: 512KiB
  dedupe_window: 90s
topics:
  laps:
    schema: schemas/lap.json
    key: /athlete
    retention: 7d
    max_bytes: 1GiB
    publishers: [timing]
    subscribers: [screens, admin]
  roster:
    kind: sync
    key: /id
    type: org.example.roster
clients:
  timing: {roles: [source]}
  screens:
`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(validYAML), testFS, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	laps, roster := c.Topics["laps"], c.Topics["roster"]
	for _, check := range []struct {
		name      string
		got, want any
	}{
		{"durability", c.Durability, DurabilityFast},
		{"engine.max_memory", c.Engine.MaxMemory, 64 * MiB},
		{"engine.max_disk", c.Engine.MaxDisk, Size(2_000_000_000)},
		{"exchange.max_body", c.Exchange.MaxBody, 512 * KiB},
		{"exchange.dedupe_window", c.Exchange.DedupeWindow.D(), 90 * time.Second},
		{"exchange.nats_consumers_per_client (default)", c.Exchange.NATSConsumersPerClient, 16},
		{"topics.laps.kind (default)", laps.Kind, KindRealtime},
		{"topics.laps.type (default)", laps.Type, "stadion.topic.laps"},
		{"topics.laps.retention", laps.Retention.D(), 7 * 24 * time.Hour},
		{"topics.laps.max_bytes", laps.MaxBytes, GiB},
		{"topics.roster.type", roster.Type, "org.example.roster"},
		{"clients.screens (empty)", c.Clients["screens"] != nil, true},
		{"timing has role source", c.HasRole("timing", "source"), true},
		{"screens has no role source", c.HasRole("screens", "source"), false},
		{"timing publishes laps", laps.CanPublish("timing"), true},
		{"screens does not publish laps", laps.CanPublish("screens"), false},
		{"admin publishes everywhere", roster.CanPublish(AdminClient), true},
		{"screens subscribes to laps", laps.CanSubscribe("screens"), true},
		{"topic names sorted", strings.Join(c.TopicNames(), ","), "laps,roster"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v, want %v", check.name, check.got, check.want)
		}
	}
	schema, err := c.ReadFile(laps.Schema)
	if err != nil || string(schema) != `{"type":"object"}` {
		t.Errorf("schema: %q %v", schema, err)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(nil, testFS, ".")
	if err != nil {
		t.Fatal(err)
	}
	if c.Durability != DurabilityAlways || c.Exchange.MaxBody != MiB || c.Exchange.DedupeWindow.D() != 2*time.Minute ||
		c.Engine.MaxMemory != 256*MiB || c.Engine.MaxDisk != 10*GiB || c.Topics == nil || c.Clients == nil {
		t.Errorf("defaults: %+v", c)
	}
	if c.Exchange.StreamsPerClient != 32 || c.Exchange.StreamStall.D() != 10*time.Second || !c.Metrics.MetricsAuth() {
		t.Errorf("stream and metrics defaults: %+v %+v", c.Exchange, c.Metrics)
	}
	off, err := Parse([]byte("metrics: {auth: false}"), testFS, ".")
	if err != nil || off.Metrics.MetricsAuth() {
		t.Errorf("metrics.auth false: %v, %v", err, off.Metrics.MetricsAuth())
	}
}

// Every error names the field it is about.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // each must appear in the error
	}{
		{"sync topic without key", `
topics:
  x: {kind: sync}`, []string{"topics.x.key: required for sync topics"}},
		{"unknown publisher", `
topics:
  x: {publishers: [ghost]}`, []string{`topics.x.publishers[0]: unknown client "ghost"`}},
		{"unknown subscriber", `
clients: {a: {}}
topics:
  x: {subscribers: [a, ghost]}`, []string{`topics.x.subscribers[1]: unknown client "ghost"`}},
		{"bad kind", `
topics:
  x: {kind: batch}`, []string{`topics.x.kind: must be realtime or sync, not "batch"`}},
		{"key not a pointer", `
topics:
  x: {key: id}`, []string{`topics.x.key: must be a JSON pointer starting with '/', not "id"`}},
		{"missing schema file", `
topics:
  x: {schema: nope.json}`, []string{"topics.x.schema: cannot read nope.json"}},
		{"negative retention", `
topics:
  x: {retention: -1h}`, []string{"topics.x.retention: must not be negative"}},
		{"bad topic name", `
topics:
  Bad.Name: {}`, []string{"topics.Bad.Name: name must be lower-case"}},
		{"bad client name", `
clients:
  -x: {}`, []string{"clients.-x: name must be lower-case"}},
		{"reserved client name", `
clients:
  admin: {}`, []string{"clients.admin: the name admin is reserved"}},
		{"sink client name", `
clients:
  sink: {}
  sink-feed: {}`, []string{"clients.sink: names sink and sink-… are reserved", "clients.sink-feed: names sink"}},
		{"nats consumers per client", `
exchange: {nats_consumers_per_client: -1}`, []string{"exchange.nats_consumers_per_client: must be 1-1000, not -1"}},
		{"bad durability", `durability: sometimes`, []string{`durability: must be "always" or "fast", not "sometimes"`}},
		{"streams_per_client too small", `
exchange: {streams_per_client: -1}`, []string{"exchange.streams_per_client: must be 1-100000, not -1"}},
		{"stream_stall too short", `
exchange: {stream_stall: 10ms}`, []string{"exchange.stream_stall: must be from 100ms to 10m"}},
		{"max_body too small", `
exchange: {max_body: 100B}`, []string{"exchange.max_body: must be at least 1KiB"}},
		{"dedupe_window too short", `
exchange: {dedupe_window: 10ms}`, []string{"exchange.dedupe_window: must be at least 1s"}},
		{"bad size unit", `
exchange:
  max_body: 10XB`, []string{"exchange.max_body", `invalid size "10XB"`, "line 3"}},
		{"negative size", `
engine: {max_disk: -5GiB}`, []string{"engine.max_disk", `invalid size "-5GiB"`}},
		{"bad duration unit", `
topics:
  x:
    retention: 3 weeks`, []string{"topics.x.retention", `invalid duration "3 weeks"`, "line 4"}},
		{"bad size in a flow mapping", `
exchange: {max_body: 10XB}`, []string{"exchange.max_body: line 2: invalid size"}},
		{"bad size next to a sibling", `
exchange: {dedupe_window: 5s, max_body: 10XB}`, []string{"exchange: line 2: invalid size"}},
		{"bad duration in a list item", `
topics:
  x:
    publishers: [a]
    retention: [1d]`, []string{"topics.x.retention", "line 5"}},
		{"unknown field", `
topics:
  x:
    publisher: [a]`, []string{`line 4: unknown field "publisher" in topics.x; did you mean "publishers"?`}},
		{"unknown top-level field", `
topic: {}`, []string{`line 2: unknown field "topic"; did you mean "topics"?`}},
		{"live mqtt bounds", `
live:
  rooms: [a]
  mqtt: {packet_timeout: 1ms, max_subscriptions: -1, max_anonymous_sessions: 2000000}`, []string{
			"live.mqtt.packet_timeout: must be between 100ms and 10m",
			"live.mqtt.max_subscriptions: must be between 1 and 1000000",
			"live.mqtt.max_anonymous_sessions: must be between 1 and 1000000",
		}},
		{"duplicate key", `
topics:
  x: {}
  x: {kind: sync}`, []string{"topics", "line 4", `"x" already defined at line 3`}},
		{"duplicate nested key", `
topics:
  x:
    publishers: [a]
    publishers: [b]`, []string{"topics.x", "line 5", `"publishers" already defined at line 4`}},
		{"duplicate key in a flow mapping", `
exchange: {max_body: 1MiB, max_body: 2MiB}`, []string{"exchange", "line 2", "already defined"}},
		{"duplicate top-level key", `
durability: fast
durability: always`, []string{"line 3", `"durability" already defined at line 2`}},
		{"several problems at once", `
topics:
  a: {kind: sync}
  b: {kind: other, publishers: [nobody]}`, []string{
			"topics.a.key: required for sync topics",
			`topics.b.kind: must be realtime or sync, not "other"`,
			`topics.b.publishers[0]: unknown client "nobody"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), testFS, ".")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]Size{"512": 512, "64KiB": 64 * KiB, "1 MiB": MiB, "10GiB": 10 * GiB, "1KB": 1000, "3MB": 3_000_000, "7B": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1.5MiB", "-1", "MiB", "1 XB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "2m": 2 * time.Minute, "7d": 7 * 24 * time.Hour, "0d": 0, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1w", "soon"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	for s, want := range map[Size]string{512: "512", 64 * KiB: "64KiB", MiB: "1MiB", 3 * GiB: "3GiB", 1500: "1500"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "laps": true, "a-b_c9": true, "9a": true,
		"": false, "-a": false, "_a": false, "A": false, "a.b": false, "a b": false, "a>": false, "a*": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestEngineClusterSettings(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"replicas 2", "engine: {replicas: 2}\n", "engine.replicas: must be 1, 3 or 5, not 2"},
		{"replicas 4", "engine: {replicas: 4}\n", "engine.replicas: must be 1, 3 or 5, not 4"},
		{"route scheme", "engine: {cluster: {listen: \"127.0.0.1:6222\", routes: [\"nats://a:6222\"]}}\n", "engine.cluster.routes[0]: \"nats://a:6222\": want nats-route://host:port"},
		{"routes without listen", "engine: {cluster: {routes: [\"nats-route://a:6222\"]}}\n", "engine.cluster.routes: needs engine.cluster.listen"},
		{"listen", "engine: {cluster: {listen: \"6222\"}}\n", "engine.cluster.listen: \"6222\": want host:port"},
		{"node", "engine: {node: \"a.b\"}\n", "engine.node: must not contain"},
		{"tag", "engine: {placement_tags: [\"\"]}\n", "engine.placement_tags[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), nil, ".")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	c, err := Parse([]byte("engine: {replicas: 3, placement_tags: [az:a], cluster: {listen: \"127.0.0.1:6222\", routes: [\"nats-route://127.0.0.1:6222\"]}}\n"), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.Replicas != 3 || c.Engine.Cluster.Name != DefaultClusterName || c.Engine.Node == "" || !c.Engine.Clustered() {
		t.Fatalf("engine = %+v", c.Engine)
	}
	if c, _ := Parse(nil, nil, "."); c.Engine.Replicas != 1 || c.Engine.Clustered() {
		t.Fatalf("defaults: %+v", c.Engine)
	}
}
