package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// metricSum sums the cloud's /metrics series named name whose labels hold
// every one of labels (`venue="ice-cube"`).
func metricSum(t *testing.T, c *gateCloud, name string, labels ...string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", c.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			total += v
		}
	}
	return total
}

// TestAttackEdgeMisreportsItsHealth: with ice-cube's credentials, an
// attacker sends heartbeats whose anomaly summary is out of bounds and a
// scan batch whose decision-latency counts claim more scans than it holds.
// The cloud refuses the heartbeats (counted as kind "heartbeat") and stores
// the batch without its counts: ice-cube's gate_decision_latency gets no
// event from it, and bird-nest's real edge's latencies still arrive.
func TestAttackEdgeMisreportsItsHealth(t *testing.T) {
	r := startGateAttackRig(t)
	rogue := gateRogue(t, r.cloud, r.stolen)
	// The heartbeats and the batch are plain NATS messages: one sent before
	// the cloud's interest has crossed the new link is dropped, so each is
	// sent again until the cloud has acted on it.
	refused := func() float64 {
		return metricSum(t, r.cloud, "stadion_gate_refused_total", `venue="ice-cube"`, `kind="heartbeat"`)
	}
	for i, hb := range []map[string]any{
		{"venue": "ice-cube", "config_version": 1, "anomalous": -5},
		{"venue": "ice-cube", "config_version": 1, "anomalous": 1, "anomaly": strings.Repeat("x", 4096)},
	} {
		raw, _ := json.Marshal(hb)
		before := refused()
		gateWait(t, fmt.Sprintf("heartbeat %d refused", i+1), func() bool {
			if err := rogue.Conn.Publish("gate.ice-cube.hb", raw); err != nil {
				t.Fatal(err)
			}
			return refused() > before
		})
	}

	batch, _ := json.Marshal(map[string]any{"scans": []map[string]any{{
		"id": "aabbccddeeff001122334455", "venue": "ice-cube", "gate": "east-1", "direction": "in",
		"at": time.Now().UTC(), "decision": "reject", "reason": "malformed",
	}}})
	m := nats.NewMsg("gate.ice-cube.fwd")
	m.Reply, m.Data = "gate.ice-cube.fwdreply.x", batch
	m.Header.Set("Stadion-Scans-Total", "1")
	m.Header.Set("Stadion-Decision-Latency", "999,0,0,0,0,0,0,0,0,0,0,0,0,0,0")
	gateWait(t, "ice-cube's scan in the cloud's view", func() bool {
		if err := rogue.Conn.PublishMsg(m); err != nil { // the same batch: stored once (deduplicated)
			t.Fatal(err)
		}
		return r.cloud.venue(t, "ice-cube").Scans >= 1
	})
	if n := metricSum(t, r.cloud, "stadion_gate_decision_seconds_count", `venue="ice-cube"`); n != 0 {
		t.Errorf("the cloud counted %v decision latencies for ice-cube from a batch of one scan claiming 999", n)
	}
	r.admits(t)
	gateWait(t, "bird-nest's real decision latency in the cloud", func() bool {
		return metricSum(t, r.cloud, "stadion_gate_decision_seconds_count", `venue="bird-nest"`) >= 1
	})
}
