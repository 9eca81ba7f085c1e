package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// benchAgent is the publishers' User-Agent: no limit of the bench matches it.
const benchAgent = "stadion-bench/limits"

const benchConfig = `topics:
  bench:
    kind: realtime
    key: /id
    publishers: [pub]
clients:
  pub: {}
live:
  rooms: [final]
  anonymous_read: true
  user_rate: "off"
plans:
  storm:
    description: cap a flooding MQTT client
    limits:
      flood:
        match: {route: CONNECT, user_agent: "^flood-"}
        rate: %d/s
        burst: %d
`

type bench struct {
	o       options
	a, b    *rig.Child
	adminA  *client.Client
	hc      *http.Client
	pubKey  string
	inForce int
}

func run(ctx context.Context, env cmdio.Env, o options) (*result, error) {
	tmp, err := os.MkdirTemp("", "stadion-bench-limits-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(tmp, "engine"), NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(30 * time.Second) {
		return nil, fmt.Errorf("the engine was not ready within 30s")
	}
	cfg := filepath.Join(tmp, "stadion.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, benchConfig, o.cap, o.cap), 0o600); err != nil {
		return nil, err
	}
	ext := []string{"--config", cfg, "--log-level", "warn", "--nats-url", ns.ClientURL(), "--nats", ""}
	fmt.Fprintln(env.Stderr, "starting two replicas on one engine...")
	bn := &bench{o: o, hc: rig.HTTPClient(o.publishers + 4)}
	if bn.a, err = rig.StartChild(ctx, o.bin, filepath.Join(tmp, "a"), ext...); err != nil {
		return nil, err
	}
	defer bn.a.Stop(20 * time.Second)
	if bn.b, err = rig.StartChild(ctx, o.bin, filepath.Join(tmp, "b"), ext...); err != nil {
		return nil, err
	}
	defer bn.b.Stop(20 * time.Second)
	bn.adminA = &client.Client{Base: bn.a.Ep.HTTP, Token: bn.a.AdminKey, HTTP: bn.hc, Agent: benchAgent}
	var key struct{ Key string }
	if err := bn.adminA.Do(ctx, "POST", "/v1/clients/pub/keys", "", nil, nil, &key); err != nil {
		return nil, err
	}
	bn.pubKey = key.Key
	res := &result{Publishers: o.publishers, Cap: o.cap, PropTrials: o.trials}
	if err := bn.throughputs(ctx, env, res); err != nil {
		return nil, err
	}
	if err := bn.storms(ctx, env, res); err != nil {
		return nil, err
	}
	res.checks()
	return res, nil
}

func (r *result) checks() {
	r.Checks = []rig.Check{
		rig.NewCheck(fmt.Sprintf("throughput lost with %d limits", r.Throughput[2].Limits), max(r.LossPct, 0.01), "%", 5, true, ""),
		rig.NewCheck("limit set to first 429 on another replica, p99", r.PropP99MS, "ms", 1000, true, fmt.Sprintf("p50 %.0f ms", r.PropP50MS)),
	}
	if len(r.Storms) == 2 {
		on := r.Storms[1]
		r.Checks = append(r.Checks,
			rig.NewCheck("viewer connects that succeed during the capped storm", max(on.ViewerSuccessPC, 0.01), "%", 100, false, ""),
			rig.NewCheck("flood connects accepted per second under the plan", max(on.FloodAccepted, 0.01), "/s", float64(r.Cap)*1.2, true, "the cap plus its burst, spread over the storm"))
	}
}

// throughputs measures publishing with 0, 10 and many limits, --rounds
// times in that order, keeping each count's best run (the machine's noise
// only ever slows a run down), and times a limit's propagation while the
// most limits are in force.
func (bn *bench) throughputs(ctx context.Context, env cmdio.Env, res *result) error {
	counts := []int{0, 10, bn.o.many}
	best := make([]throughput, len(counts))
	for round := range bn.o.rounds {
		for i, n := range counts {
			if err := bn.setLimits(ctx, n); err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "round %d: publishing with %d limits in force...\n", round+1, n)
			if t := bn.publish(ctx, n); t.EventsPerSec > best[i].EventsPerSec {
				best[i] = t
			}
			if round == 0 && n == bn.o.many {
				if err := bn.propagation(ctx, env, res); err != nil {
					return err
				}
			}
		}
	}
	res.Throughput = best
	res.LossPct = 100 * (1 - best[2].EventsPerSec/best[0].EventsPerSec)
	res.CheckNS = checkCost(counts)
	return nil
}

// setLimits makes n bench limits be in force (adding or deleting).
func (bn *bench) setLimits(ctx context.Context, n int) error {
	for i := bn.inForce; i < n; i++ {
		body, _ := json.Marshal(benchLimit(i))
		if err := bn.adminA.Do(ctx, "PUT", client.LimitPath(fmt.Sprintf("bench-%d", i)), "application/json", body, nil, nil); err != nil {
			return fmt.Errorf("setting limit %d: %w", i, err)
		}
	}
	for i := bn.inForce - 1; i >= n; i-- {
		if err := bn.adminA.Do(ctx, "DELETE", client.LimitPath(fmt.Sprintf("bench-%d", i)), "", nil, nil, nil); err != nil {
			return fmt.Errorf("deleting limit %d: %w", i, err)
		}
	}
	bn.inForce = n
	return nil
}

// benchLimit is the i-th limit: a mix of what an on-call team leaves in
// force, none matching the bench's publishers.
func benchLimit(i int) map[string]any {
	var match map[string]any
	switch i % 8 {
	case 0, 1, 2:
		match = map[string]any{"user_agent": fmt.Sprintf("^Crawler%d/", i)}
	case 3:
		match = map[string]any{"user_agent": fmt.Sprintf("(?i)scraper-%d", i)}
	case 4:
		match = map[string]any{"client": fmt.Sprintf("partner-%d", i)}
	case 5:
		match = map[string]any{"source": fmt.Sprintf("198.51.%d.%d/32", i/256%256, i%256)}
	case 6:
		match = map[string]any{"route": fmt.Sprintf("POST /v1/topics/t%d/events", i)}
	default:
		match = map[string]any{"source": fmt.Sprintf("203.0.%d.0/24", i%256), "route": "GET /v1/topics"}
	}
	return map[string]any{"match": match, "rate": "10/s", "action": "enforce"}
}

// publish runs one closed-loop throughput phase on replica a.
func (bn *bench) publish(ctx context.Context, n int) throughput {
	url := bn.a.Ep.HTTP + "/v1/topics/bench/events"
	var seq atomic.Int64
	spec := rig.LoadSpec{Workers: bn.o.publishers, Warmup: bn.o.warmup, Measure: bn.o.duration}
	lr := rig.RunLoad(ctx, spec, func(ctx context.Context, w int) (int, error) {
		body := fmt.Appendf(nil, `{"id":"e%d","n":%d}`, seq.Add(1)%1000, w)
		req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bn.pubKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", benchAgent)
		resp, err := bn.hc.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("publish: HTTP %d", resp.StatusCode)
		}
		return 1, nil
	})
	return throughput{Limits: n, EventsPerSec: lr.EventsPerSec(), P99MS: rig.MS(lr.Lat.Quantile(0.99)), Errors: lr.Errors}
}

// propagation times a limit set on a to the first 429 on b.
func (bn *bench) propagation(ctx context.Context, env cmdio.Env, res *result) error {
	fmt.Fprintf(env.Stderr, "propagation: %d trials (with %d limits in force)...\n", bn.o.trials, bn.inForce)
	var ds []time.Duration
	for i := range bn.o.trials {
		agent := fmt.Sprintf("Probe%d/1.0", i)
		t0 := time.Now()
		set := exec.CommandContext(ctx, bn.o.bin, "limits", "set", "probe", "--user-agent", fmt.Sprintf("^Probe%d/", i), "--rate", "0",
			"--server", bn.a.Ep.HTTP, "--token", bn.a.AdminKey)
		if out, err := set.CombinedOutput(); err != nil {
			return fmt.Errorf("stadion limits set: %v\n%s", err, out)
		}
		if err := bn.pollStatus(ctx, agent, http.StatusTooManyRequests); err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		ds = append(ds, time.Since(t0))
	}
	if err := bn.adminA.Do(ctx, "DELETE", client.LimitPath("probe"), "", nil, nil, nil); err != nil {
		return err
	}
	slices.Sort(ds)
	res.PropP50MS = rig.MS(ds[len(ds)/2])
	res.PropP99MS = rig.MS(ds[min(len(ds)-1, len(ds)*99/100)])
	return nil
}

// pollStatus polls b with agent until it answers want (bounded: 30 s).
func (bn *bench) pollStatus(ctx context.Context, agent string, want int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", bn.b.Ep.HTTP+"/healthz", nil)
		req.Header.Set("User-Agent", agent)
		resp, err := bn.hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == want {
			return nil
		}
	}
	return fmt.Errorf("replica b did not answer %d to %s within 30s", want, agent)
}

// storms runs the connect storm without and with the plan.
func (bn *bench) storms(ctx context.Context, env cmdio.Env, res *result) error {
	for _, plan := range []bool{false, true} {
		if plan {
			if err := bn.adminA.Do(ctx, "POST", client.PlanPath("storm", "/apply"), "", nil, nil, nil); err != nil {
				return err
			}
			if err := bn.waitFloodLimited(ctx); err != nil {
				return err
			}
		}
		fmt.Fprintf(env.Stderr, "MQTT connect storm, plan %v: %d flooders, viewers at %d/s for %s...\n", plan, bn.o.flooders, bn.o.viewerRate, bn.o.storm)
		res.Storms = append(res.Storms, bn.storm(ctx, plan))
	}
	return bn.adminA.Do(ctx, "POST", client.PlanPath("storm", "/revert"), "", nil, nil, nil)
}

// waitFloodLimited waits until b has the plan (a flood CONNECT refused
// once its burst is spent).
func (bn *bench) waitFloodLimited(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if code, err := mqttConnect(bn.b.Ep.MQTT, "flood-probe"); err == nil && code != 0 {
			return nil
		}
	}
	return fmt.Errorf("the plan did not refuse a flood CONNECT on replica b within 30s")
}

func (bn *bench) storm(ctx context.Context, plan bool) storm {
	ctx, cancel := context.WithTimeout(ctx, bn.o.storm)
	defer cancel()
	var tried, accepted atomic.Int64
	var wg sync.WaitGroup
	for f := range bn.o.flooders {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				code, err := mqttConnect(bn.b.Ep.MQTT, fmt.Sprintf("flood-%d-%d", f, i))
				tried.Add(1)
				if err == nil && code == 0 {
					accepted.Add(1)
				}
			}
		})
	}
	s := storm{Plan: plan}
	var lat rig.Histogram
	tick := time.NewTicker(time.Second / time.Duration(bn.o.viewerRate))
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
			t0 := time.Now()
			code, err := mqttConnect(bn.b.Ep.MQTT, fmt.Sprintf("viewer-%d", i))
			s.ViewerTried++
			if err == nil && code == 0 {
				s.ViewerOK++
				lat.Record(time.Since(t0))
			}
			continue
		}
		break
	}
	tick.Stop()
	wg.Wait()
	secs := time.Since(start).Seconds()
	s.FloodAttempts, s.FloodAccepted = float64(tried.Load())/secs, float64(accepted.Load())/secs
	s.ViewerP99MS = rig.MS(lat.Quantile(0.99))
	if s.ViewerTried > 0 {
		s.ViewerSuccessPC = 100 * float64(s.ViewerOK) / float64(s.ViewerTried)
	}
	return s
}

// mqttConnect sends an anonymous CONNECT as id and returns the CONNACK's
// return code (0: accepted); the connection is closed after.
func mqttConnect(addr, id string) (byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(rig.MQTTConnectPacket(id, "", "")); err != nil {
		return 0, err
	}
	var ack [4]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return 0, err
	}
	if ack[0] != 0x20 {
		return 0, fmt.Errorf("not a CONNACK: %x", ack)
	}
	return ack[3], nil
}
