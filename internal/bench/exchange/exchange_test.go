package exchange_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/benchtest"
	"github.com/stadion-dev/stadion/internal/bench/exchange"
	"github.com/stadion-dev/stadion/internal/cli"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// benchExchangeArgs run the benchmark small: the tests check that every
// figure is there, never what it is.
func benchExchangeArgs(t *testing.T, extra ...string) []string {
	return append([]string{"bench", "exchange", "--stadion", proctest.Binary(t),
		"--duration", "300ms", "--warmup", "100ms", "--publishers", "4", "--batch", "10", "--rate", "200"}, extra...)
}

func TestBenchExchangeText(t *testing.T) {
	out := benchtest.Run(t, benchExchangeArgs(t, "--modes", "always"))
	num, ms := `[0-9][0-9,.]*`, `[0-9.]+ ms`
	want := []string{
		`disk under .*: \d+-byte append\+fsync ` + num + `/s, p50 ` + ms + `, p99 ` + ms,
		`durability always: cold start ` + ms + `, idle RSS [0-9.]+ MiB, peak RSS [0-9.]+ MiB`,
	}
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		want = append(want, `\(`+key+`\) .+  `+num+`\s+`+ms+`\s+`+ms+`\s+\d+\s+`+num+`\s+`+num+` µs\s+`+num)
	}
	for _, name := range []string{`b/a .+`, `c/d .+`, `p99 of \(e\) .+`, `idle RSS .+`, `cold start .+`} {
		want = append(want, name+`  `+num+`( ms| MiB| s)?\s+(>=|<=) `+num+`.*\s(ok|MISSED)`)
	}
	for _, re := range want {
		if !regexp.MustCompile(`(?m)^` + re).MatchString(out) {
			t.Errorf("no line matches %s in\n%s", re, out)
		}
	}
}

func TestBenchExchangeJSON(t *testing.T) {
	out := benchtest.Run(t, benchExchangeArgs(t, "--modes", "fast", "--json"))
	var rep exchange.ExchangeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if rep.Disk == nil || rep.Disk.Appends == 0 || len(rep.Modes) != 1 {
		t.Fatalf("disk probe or modes missing:\n%s", out)
	}
	m := rep.Modes[0]
	if m.Durability != "fast" || m.ColdStartMS <= 0 || m.IdleRSS == 0 || m.PeakRSS < m.IdleRSS {
		t.Errorf("server figures: %+v", m)
	}
	var keys []string
	for _, p := range m.Phases {
		keys = append(keys, p.Key)
		if p.Events == 0 || p.Requests == 0 || p.EventsPerSec <= 0 || p.Latency.P50 <= 0 || p.Latency.P99 < p.Latency.P50 {
			t.Errorf("phase %s: %+v", p.Key, p)
		}
	}
	if !slices.Equal(keys, []string{"a", "b", "c", "d", "e", "f", "g"}) {
		t.Errorf("phases %v", keys)
	}
	for _, c := range m.Checks {
		if c.Status != "ok" && c.Status != "MISSED" {
			t.Errorf("check %q: status %q", c.Name, c.Status)
		}
	}
}

func TestBenchExchangeUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad mode", []string{"--modes", "always,sometimes"}, `"sometimes" is not a durability`},
		{"batch too big", []string{"--batch", "1001"}, "--batch must be 1-1000"},
		{"no publishers", []string{"--publishers", "0"}, "--publishers must be"},
		{"zero duration", []string{"--duration", "0s"}, "--duration must be positive"},
		{"argument", []string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cli.Main(t.Context(), append([]string{"bench", "exchange"}, tt.args...), cli.Env{Stdout: &out, Stderr: &errOut})
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}
