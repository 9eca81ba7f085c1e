package live

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// The common rate is the highest ladder rate every broker sustained, and
// the checks compare stadion with Mosquitto there.
func TestBenchLiveCommonRate(t *testing.T) {
	step := func(rate, delivered, p99 float64, ok bool) *liveStep {
		return &liveStep{stepResult: stepResult{Rate: rate, DeliveredPerSec: delivered, Latency: rig.Latency{P99: p99}}, Ladder: true, Sustained: ok}
	}
	ramp := func(steps ...*liveStep) *rampResult {
		r := &rampResult{}
		for _, s := range steps {
			r.add(s)
		}
		return r
	}
	rep := &liveReport{Brokers: []*liveBrokerResult{
		{Name: "sink", FanOut: ramp(step(10, 1, 1, true), step(15, 1, 1, true), step(22.5, 1, 1, true))},
		{Name: "stadion", FanOut: ramp(step(10, 20000, 5, true), step(15, 30000, 6, true), step(22.5, 45000, 9, true))},
		{Name: "mosquitto", FanOut: ramp(step(10, 20000, 4, true), step(15, 25000, 8, false))},
		{Name: "nats", Error: "refused"},
	}}
	rep.finish(liveOptions{rate: 10, maxRate: 100})
	if rep.CommonRate != 10 {
		t.Fatalf("common rate %g, want 10", rep.CommonRate)
	}
	want := map[string]string{
		"fan-out deliveries/s, stadion/mosquitto":     "ok",     // 45,000 / 20,000
		"fan-out p99 at 10/s, stadion (<= mosquitto)": "MISSED", // 5 ms > 4 ms
	}
	for _, c := range rep.Checks {
		if w, ok := want[c.Name]; ok && c.Status != w {
			t.Errorf("%s: %s, want %s", c.Name, c.Status, w)
		}
		delete(want, c.Name)
	}
	if len(want) > 0 {
		t.Errorf("checks missing: %v", want)
	}
}

// The benchmark's comments must never be refused by its banned words,
// however stadion normalizes them, and must carry their send time.
func TestBenchLiveComment(t *testing.T) {
	c := string(rig.AppendComment(nil, 1234567890123, 7, 200))
	if len(c) != 200 || rig.SentAt([]byte(`{"text":"`+c+`"}`)) != 1234567890123 {
		t.Fatalf("comment %q (%d bytes)", c, len(c))
	}
	if strings.ContainsAny(c, bannedWordAlphabet) {
		t.Errorf("comment %q uses letters of the banned words", c)
	}
	seen := map[string]bool{}
	for i := range 16807 {
		w := bannedWord(i)
		if seen[w] || len(w) != 7 {
			t.Fatalf("banned word %d: %q repeats or is not 7 letters", i, w)
		}
		seen[w] = true
	}
}

func TestMQTTPacketSplit(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 300) // a two-byte remaining length
	b := rig.AppendMQTTPublish(nil, "live/a/comments", payload)
	b = append(b, rig.MQTTPingPacket...)
	head, body, n, err := rig.NextMQTTPacket(b)
	if err != nil || head>>4 != rig.MQTTPublish {
		t.Fatalf("head %x, err %v", head, err)
	}
	if got, ok := rig.MQTTPublishPayload(head, body); !ok || !bytes.Equal(got, payload) {
		t.Errorf("payload %d bytes, ok %v", len(got), ok)
	}
	if _, _, _, err := rig.NextMQTTPacket(b[:n-1]); err != rig.ErrMQTTShort {
		t.Errorf("cut packet: %v, want errMQTTShort", err)
	}
	if head, _, m, err := rig.NextMQTTPacket(b[n:]); err != nil || head>>4 != rig.MQTTPingreq || m != 2 {
		t.Errorf("second packet: %x %d %v", head, m, err)
	}
}
