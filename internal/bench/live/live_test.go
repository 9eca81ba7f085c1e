package live_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/benchtest"
	"github.com/stadion-dev/stadion/internal/bench/live"
	"github.com/stadion-dev/stadion/internal/cli"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// benchLiveArgs run the benchmark tiny: the tests check that every
// workload ran against real brokers and counted exactly, never how fast.
func benchLiveArgs(t *testing.T, brokers string, extra ...string) []string {
	if _, err := exec.LookPath("/usr/sbin/mosquitto"); err != nil && strings.Contains(brokers, "mosquitto") {
		if os.Getenv("STADION_CI") != "" {
			t.Fatal("mosquitto is missing: .ci/run installs the Debian package mosquitto")
		}
		t.Skip("mosquitto not installed (apt-get install mosquitto; CI installs it)")
	}
	return append([]string{"bench", "live", "--stadion", proctest.Binary(t), "--brokers", brokers,
		"--viewers", "40", "--concurrency", "8", "--subscribers", "10", "--publishers", "2", "--users", "3",
		"--rate", "40", "--max-rate", "50", "--mod-rate", "100", "--mod-max-rate", "100", "--banned", "500",
		"--warmup", "100ms", "--measure", "300ms", "--latency-rate", "40", "--sessions", "30", "--owed", "3"}, extra...)
}

func TestBenchLiveJSON(t *testing.T) {
	brokers := "mosquitto"
	if !testing.Short() {
		brokers = "stadion,mosquitto,nats"
	}
	out := benchtest.Run(t, benchLiveArgs(t, brokers, "--json"))
	var rep live.LiveReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	names := []string{"sink"}
	names = append(names, strings.Split(brokers, ",")...)
	if len(rep.Brokers) != len(names) {
		t.Fatalf("%d brokers, want %v:\n%s", len(rep.Brokers), names, out)
	}
	for i, b := range rep.Brokers {
		if b.Name != names[i] || b.Error != "" {
			t.Fatalf("broker %d: %s, error %q; want %s", i, b.Name, b.Error, names[i])
		}
		checkStorm(t, b)
		checkRamp(t, b.Name+" fan-out", b.FanOut, 10)
		checkQoS(t, b)
		if b.Name == "stadion" || b.Name == "sink" {
			checkRamp(t, b.Name+" moderation", b.Moderation, 1)
		} else if b.Moderation != nil {
			t.Errorf("%s: moderation measured, but only stadion moderates", b.Name)
		}
	}
}

func checkStorm(t *testing.T, b *live.LiveBrokerResult) {
	t.Helper()
	s, i := b.Storm, b.Idle
	if s == nil || s.Connected != 40 || s.Failures != 0 || s.PerSec <= 0 || s.Handshake.P99 <= 0 {
		t.Errorf("%s: storm %+v, want 40 connected, none failed", b.Name, s)
	}
	if b.Name == "sink" {
		if i != nil {
			t.Errorf("sink: idle memory reported, but it is the benchmark's own process")
		}
		return
	}
	if i == nil || i.Viewers != 40 || i.Alive != 40 || i.RSS == 0 {
		t.Errorf("%s: idle %+v, want 40 viewers alive after idling", b.Name, i)
	}
}

// checkRamp wants every step's comments delivered to every subscriber
// exactly once: the load is far below what any broker sustains.
func checkRamp(t *testing.T, name string, r *live.RampResult, subs int) {
	t.Helper()
	if r == nil || len(r.Steps) == 0 {
		t.Fatalf("%s: no steps", name)
	}
	for _, s := range r.Steps {
		if s.Subscribers != subs || s.Sent == 0 || s.Expected != s.Sent*int64(subs) || s.Received != s.Expected ||
			s.WindowExpected == 0 || s.WindowReceived != s.WindowExpected {
			t.Errorf("%s at %g/s: sent %d to %d subscribers, received %d of %d (%d of %d sent in the window)",
				name, s.Rate, s.Sent, s.Subscribers, s.Received, s.Expected, s.WindowReceived, s.WindowExpected)
		}
		if s.Latency.P50 <= 0 || s.Latency.P99 < s.Latency.P50 || s.DeliveredPerSec <= 0 {
			t.Errorf("%s at %g/s: figures %+v", name, s.Rate, s)
		}
	}
}

func TestBenchLiveText(t *testing.T) {
	out := benchtest.Run(t, benchLiveArgs(t, "mosquitto", "--ceiling=false", "--workloads", "storm,idle"))
	for _, re := range []string{
		`connect storm: connects/s\s+[0-9,]+`,
		`connected / failures\s+40 / 0`,
		`alive after idling\s+40/40`,
		`idle: KiB per viewer\s+[0-9.]+`,
	} {
		if !regexp.MustCompile(`(?m)^\s*` + re).MatchString(out) {
			t.Errorf("no line matches %s in\n%s", re, out)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "error:") {
			t.Errorf("error reported: %s", sc.Text())
		}
	}
}

func TestBenchLiveUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown broker", []string{"--brokers", "emqx"}, `--brokers: "emqx" is not one of`},
		{"no workload", []string{"--workloads", ","}, "--workloads: name at least one"},
		{"too many viewers", []string{"--viewers", "50000"}, "open-file limit"},
		{"bad sync", []string{"--nats-sync", "never"}, "--nats-sync must be"},
		{"argument", []string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := cli.Main(t.Context(), append([]string{"bench", "live"}, tt.args...), cli.Env{Stdout: &out, Stderr: &errOut})
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}

// checkQoS wants the fan-out at QoS 1 and 2 and the latency workload at
// every QoS to deliver every comment exactly once, and the reconnect
// storm to deliver all that its sessions were owed, once each.
func checkQoS(t *testing.T, b *live.LiveBrokerResult) {
	t.Helper()
	if b.Name == "sink" {
		if b.FanOutAt(1) != nil || b.Reconnect != nil {
			t.Errorf("sink: measured at QoS 1 or reconnected, but it grants QoS 0 only")
		}
		return
	}
	for q := 0; q <= 2; q++ {
		if q > 0 {
			checkRamp(t, fmt.Sprintf("%s fan-out QoS %d", b.Name, q), b.FanOutAt(q), 10)
		}
		s := b.LatencyAt(q)
		if s == nil {
			t.Errorf("%s: no latency step at QoS %d", b.Name, q)
			continue
		}
		checkRamp(t, fmt.Sprintf("%s latency QoS %d", b.Name, q), &live.RampResult{Steps: []*live.LiveStep{s}}, 10)
	}
	r := b.Reconnect
	if r == nil || r.Sessions != 30 || r.Connected != 30 || r.Failures != 0 || r.NotPresent != 0 ||
		r.Expected != 90 || r.Received != 90 || r.Duplicates != 0 || r.Lost != 0 || r.Witnessed != 3 {
		t.Errorf("%s: reconnect storm %+v, want 30 sessions back, each with its 3 comments once", b.Name, r)
	}
}
