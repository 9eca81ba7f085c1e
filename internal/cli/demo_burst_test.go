package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/demo"
)

// startBundled is startUp with the bundled Games example (no --config),
// which declares the arrivals and rides sinks.
func startBundled(t *testing.T, data string) *proc {
	t.Helper()
	return startProc(t, data)
}

// TestDemoBurstFillsSinks plays a small burst through a real server, twice:
// the sinks drain, the tables hold one row per key with each key's latest
// status, and the re-run stores nothing twice.
func TestDemoBurstFillsSinks(t *testing.T) {
	data := t.TempDir()
	p := startBundled(t, data)
	const seed, flights = 11, 2
	args := []string{"demo", "burst", "--data", data, "--flights", fmt.Sprint(flights), "--seed", fmt.Sprint(seed),
		"--workers", "4", "--batch", "25", "--wait-timeout", "1m"}
	events := demo.Burst(seed, time.Date(2022, time.February, 4, 0, 0, 0, 0, time.UTC), flights)
	for run := range 2 {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		code := Main(ctx, args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
		cancel()
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s%s\nserver:\n%s", run, code, out.String(), errOut.String(), p.stderr)
		}
		// The first run stores every event and fills the tables; the re-run
		// says it stored nothing new and the tables did not grow.
		stored := []string{fmt.Sprintf("stored %d new events in", len(events)), fmt.Sprintf("rows (+%d), %d distinct keys", demo.DistinctKeys(events)["rides"], demo.DistinctKeys(events)["rides"])}
		if run == 1 {
			stored = []string{fmt.Sprintf("stored nothing new: all %d events were already stored", len(events)), "rows (+0)"}
		}
		for _, want := range append(stored, "events/s", "sinks drained") {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run %d: output lacks %q:\n%s", run, want, out.String())
			}
		}
	}

	final := map[string]string{} // order id -> last status
	movements := map[string]bool{}
	for _, ev := range events {
		switch ev.Topic {
		case "rides":
			final[ev.Data["orderId"].(string)] = ev.Data["status"].(string)
		case "arrivals":
			f := ev.Data["flight"].(map[string]any)
			movements[fmt.Sprint(ev.Data["accreditationId"], f["number"], f["date"])] = true
		}
	}
	screens := p.createKey("core-app")
	if got := len(p.readAll("rides", screens)); got != demo.Count(events, "rides") {
		t.Errorf("rides topic holds %d events after two runs, want %d", got, demo.Count(events, "rides"))
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "games.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := queryStrings(t, db, "SELECT order_id, status FROM rides")
	if len(rows) != len(final) {
		t.Errorf("rides table: %d rows, want %d orders", len(rows), len(final))
	}
	for _, r := range rows {
		if final[r[0]] != r[1] {
			t.Errorf("rides table: %s is %s, want its last status %s", r[0], r[1], final[r[0]])
		}
	}
	rows = queryStrings(t, db, "SELECT accreditation_id, flight_number, flight_date, status FROM arrivals")
	if len(rows) != len(movements) {
		t.Errorf("arrivals table: %d rows, want %d movements", len(rows), len(movements))
	}
	for _, r := range rows {
		if !movements[r[0]+r[1]+r[2]] || r[3] != "ARRIVED" {
			t.Errorf("arrivals table: unexpected row %v", r)
		}
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string) [][]string {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
