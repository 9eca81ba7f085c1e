package abuse_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/abuse"
	"github.com/stadion-dev/stadion/internal/bench/benchtest"
	"github.com/stadion-dev/stadion/internal/cli"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// benchAbuseArgs run the benchmark tiny: the tests check that every
// figure is there, never what it is.
func benchAbuseArgs(t *testing.T, extra ...string) []string {
	return append([]string{"bench", "abuse", "--stadion", proctest.Binary(t), "--duration", "400ms", "--warmup", "100ms",
		"--rate", "50", "--backlog", "200", "--sse", "5", "--half", "20", "--connects", "100"}, extra...)
}

func TestBenchAbuseText(t *testing.T) {
	out := benchtest.Run(t, benchAbuseArgs(t))
	num, ms := `[0-9][0-9,.]*`, `[0-9.]+ ms`
	row := `\s+` + ms + `\s+` + ms + `\s+` + num + `x\s+\d+/\d+\s+\d+/\d+\s+[0-9.]+ MiB\s+[-+][0-9.]+ MiB\s+(ok|MISSED.*)$`
	want := []string{
		`baseline\s+-` + row,
		`sse\s+\d+ held` + row,
		`mqtt-half\s+\d+ held` + row,
		`mqtt-auth\s+` + num + ` connects/s` + row,
		`targets: publish p99 <= 2x baseline`,
		`mqtt-auth: bad-password MQTT CONNECTs .*: \d+ attempts, \d+ refused by the server`,
	}
	for _, re := range want {
		if !regexp.MustCompile(`(?m)^` + re).MatchString(out) {
			t.Errorf("no line matches %s in\n%s", re, out)
		}
	}
}

func TestBenchAbuseJSON(t *testing.T) {
	out := benchtest.Run(t, benchAbuseArgs(t, "--attacks", "mqtt-auth,sse", "--json"))
	var rep abuse.AbuseReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	var names []string
	for _, ph := range rep.Phases {
		names = append(names, ph.Name)
		if ph.Publishes == 0 || ph.Latency.P99 <= 0 || ph.ReadyzPolls == 0 || ph.PeakRSS == 0 || ph.Verdict == "" {
			t.Errorf("phase %s: %+v", ph.Name, ph)
		}
		if (ph.Name == "baseline") != (ph.Attack == nil) {
			t.Errorf("phase %s: attack %+v", ph.Name, ph.Attack)
		}
		if ph.Attack != nil && ph.Attack.Attempts == 0 {
			t.Errorf("phase %s: the attack made no attempt", ph.Name)
		}
	}
	if strings.Join(names, ",") != "baseline,mqtt-auth,sse" {
		t.Errorf("phases %v", names)
	}
	if rep.Phases[1].Attack.Accepted != 0 || rep.Phases[1].Attack.Refused == 0 {
		t.Errorf("bad passwords: %+v", rep.Phases[1].Attack)
	}
}

func TestBenchAbuseUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown attack", []string{"--attacks", "sse,flood"}, `"flood" is not an attack`},
		{"no streams", []string{"--sse", "0"}, "--sse and --half must be"},
		{"zero rate", []string{"--rate", "0"}, "--rate must be above 0"},
		{"zero duration", []string{"--duration", "0s"}, "--duration must be positive"},
		{"argument", []string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cli.Main(t.Context(), append([]string{"bench", "abuse"}, tt.args...), cli.Env{Stdout: &out, Stderr: &errOut})
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}
