package sink_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/benchtest"
	"github.com/stadion-dev/stadion/internal/bench/sink"
	"github.com/stadion-dev/stadion/internal/cli"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// benchSinkArgs run the benchmark small: the tests check that every figure
// is there and that the table is exact, never how fast anything was.
func benchSinkArgs(t *testing.T, extra ...string) []string {
	return append([]string{"bench", "sink", "--stadion", proctest.Binary(t),
		"--events", "600", "--batch", "100", "--publishers", "2", "--rate-events", "400", "--rate-limit", "400/s"}, extra...)
}

func TestBenchSinkText(t *testing.T) {
	out := benchtest.Run(t, benchSinkArgs(t, "--postgres", ""))
	num := `[0-9][0-9,.]*`
	for _, re := range []string{
		`  publish: 600 accepted, 0 rejected for capacity, 0 rejected otherwise`,
		`  table: 600 rows, 0 lost, 0 wrong or duplicate, 0 dead letters`,
		`  sink drain: +` + num + ` rows/s`,
		`  plain batched INSERT: ` + num + ` rows/s`,
		`  sink/plain: +` + num,
		`  max_rate 400/s: 400 events`,
		`  sink/plain batched INSERT +` + num + `\s+>= 0.70\s+(ok|MISSED)`,
		`postgres: skipped, no server given`,
	} {
		if !regexp.MustCompile(`(?m)^` + re).MatchString(out) {
			t.Errorf("no line matches %s in\n%s", re, out)
		}
	}
}

func TestBenchSinkJSON(t *testing.T) {
	pg := os.Getenv("STADION_TEST_POSTGRES")
	out := benchtest.Run(t, benchSinkArgs(t, "--json", "--postgres", pg, "--rate-events", "0"))
	var rep sink.SinkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	want := 1
	if pg != "" {
		want = 2
	}
	if len(rep.Backends) != want {
		t.Fatalf("%d databases, want %d:\n%s", len(rep.Backends), want, out)
	}
	for _, b := range rep.Backends {
		if b.Publish.Accepted != 600 || b.Rows != 600 || b.Lost != 0 || b.WrongRows != 0 {
			t.Errorf("%s: not one row per event: %+v", b.Database, b)
		}
		if b.DrainPerSec <= 0 || b.PlainPerSec <= 0 || b.Ratio <= 0 || b.Rate != nil {
			t.Errorf("%s: figures: %+v", b.Database, b)
		}
	}
}

func TestBenchSinkUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad rate", []string{"--rate-limit", "fast"}, "--rate-limit: want a positive rate"},
		{"batch too big", []string{"--batch", "1001"}, "--batch must be 1-1000"},
		{"no events", []string{"--events", "0"}, "--events must be"},
		{"argument", []string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cli.Main(t.Context(), append([]string{"bench", "sink"}, tt.args...), cli.Env{Stdout: &out, Stderr: &errOut})
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}
