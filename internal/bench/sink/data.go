package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// sinkSchema is the arrivals topic's JSON schema; the sink infers its
// column types from it.
const sinkSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["personId", "flight", "bags", "status"],
  "properties": {
    "personId": {"type": "string"},
    "flight": {"type": "object", "required": ["number", "eta"], "properties": {
      "number": {"type": "string"}, "eta": {"type": "string", "format": "date-time"}}},
    "bags": {"type": "integer"},
    "status": {"type": "string"}
  }
}`

// writeSinkConfig writes the server's configuration into dir: the arrivals
// topic and sink arrivals-db into table of db, with max_rate when rate > 0.
func writeSinkConfig(dir string, db sinkDB, table string, batch int, rate float64) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "arrivals.json"), []byte(sinkSchema), 0o600); err != nil {
		return "", err
	}
	url := "sqlite://sink.db"
	if db.kind == "postgres" {
		url = db.url
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "durability: always\ntopics:\n  arrivals:\n    schema: arrivals.json\n    key: /personId\n")
	fmt.Fprintf(&b, "databases:\n  main: {url: %q}\n", url)
	fmt.Fprintf(&b, "sinks:\n  %s:\n    topic: arrivals\n    table: %s\n    key: [person_id, flight]\n", sinkName, table)
	fmt.Fprintf(&b, "    columns: {person_id: /personId, flight: /flight/number, eta: /flight/eta, bags: /bags, status: /status}\n")
	fmt.Fprintf(&b, "    batch: {size: %d, max_wait: 50ms}\n", batch)
	if rate > 0 {
		fmt.Fprintf(&b, "    max_rate: %g/s\n", rate)
	}
	path := filepath.Join(dir, "stadion.yaml")
	return path, os.WriteFile(path, b.Bytes(), 0o600)
}

// sinkPerson is event i's key; every event of a run has its own.
func sinkPerson(i int) string { return fmt.Sprintf("p%08d", i) }

// sinkStatus is event i's status column, to check rows against.
func sinkStatus(i int) string { return fmt.Sprintf("update-%d", i) }

// sinkBatches encodes n events as JSON array bodies of up to batch events.
func sinkBatches(n, batch int) (bodies [][]byte, sizes []int) {
	for start := 0; start < n; start += batch {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := start; i < min(n, start+batch); i++ {
			if i > start {
				buf.WriteByte(',')
			}
			raw, _ := json.Marshal(map[string]any{
				"personId": sinkPerson(i),
				"flight":   map[string]any{"number": "CA1", "eta": "2022-02-04T12:00:00+08:00"},
				"bags":     i % 3, "status": sinkStatus(i),
			})
			buf.Write(raw)
		}
		buf.WriteByte(']')
		bodies = append(bodies, buf.Bytes())
		sizes = append(sizes, min(n, start+batch)-start)
	}
	return bodies, sizes
}
