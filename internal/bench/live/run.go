package live

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// benchBroker starts one broker, runs the chosen workloads against it and
// stops it. A broker that fails is reported with its error; the others
// are still measured.
func benchBroker(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, name string) *liveBrokerResult {
	res := &liveBrokerResult{Name: name}
	dir, err := os.MkdirTemp("", "stadion-bench-live-")
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer os.RemoveAll(dir)
	b, err := startLiveBroker(ctx, o, name, dir)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Addr, res.ColdStartMS = b.addr, rig.MS(b.coldStart)
	if err := runWorkloads(ctx, env, o, lc, b, res); err != nil {
		res.Error = err.Error()
	}
	if err := b.stop(); err != nil && res.Error == "" {
		res.Error = err.Error()
	}
	return res
}

func startLiveBroker(ctx context.Context, o liveOptions, name, dir string) (*liveBroker, error) {
	switch name {
	case "sink":
		return startSink()
	case "mosquitto":
		return startMosquitto(ctx, o.mosquitto, dir)
	case "nats":
		return startNATSMQTT(ctx, o.bin, dir, o.natsSync)
	}
	return startStadionLive(ctx, o.bin, dir, o.banned)
}

func runWorkloads(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, res *liveBrokerResult) error {
	var err error
	if o.does("storm") || o.does("idle") {
		fmt.Fprintf(env.Stderr, "  connect storm of %d viewers\n", o.viewers)
		if res.Storm, res.Idle, err = stormAndIdle(ctx, o, lc, b); err != nil {
			return fmt.Errorf("storm: %w", err)
		}
		fmt.Fprintf(env.Stderr, "  %s connects/s, %d failures; idle: %.1f KiB per viewer, %d/%d alive\n", cmdio.Thousands(res.Storm.PerSec),
			res.Storm.Failures, res.Idle.KiBPerViewer, res.Idle.Alive, res.Idle.Viewers)
		if b.name == "sink" {
			res.Idle = nil // the sink shares the benchmark's process: its memory says nothing
		}
	}
	if o.does("fanout") {
		if err := runFanOuts(ctx, env, o, lc, b, res); err != nil {
			return err
		}
	}
	if o.does("latency") {
		if err := runLatency(ctx, env, o, lc, b, res); err != nil {
			return err
		}
	}
	if o.does("moderation") && (b.name == "stadion" || b.name == "sink") {
		fmt.Fprintf(env.Stderr, "  moderation, %d users\n", o.users)
		if res.Moderation, err = moderationRamp(ctx, env, o, lc, b); err != nil {
			return fmt.Errorf("moderation: %w", err)
		}
	}
	// Last: the storm's sessions are ended afterwards, but the broker may
	// take a while to forget them.
	if o.does("reconnect") && b.name != "sink" {
		if res.Reconnect, err = runReconnect(ctx, env, o, lc, b); err != nil {
			return fmt.Errorf("reconnect storm: %w", err)
		}
	}
	return nil
}

// stormAndIdle measures the broker's RSS, connects the storm, measures
// again once the RSS has settled, and pings every client.
func stormAndIdle(ctx context.Context, o liveOptions, lc *liveClient, b *liveBroker) (*stormResult, *idleResult, error) {
	base, _ := settledRSS(ctx, b.pid)
	cpu0, _ := rig.ProcCPU(b.pid)
	resp, err := lc.call(liveReq{Op: "storm", Addr: b.addr, Conns: o.viewers, Concurrency: o.concurrency,
		Filter: b.comments, TimeoutMS: int(o.timeout / time.Millisecond)})
	if err != nil {
		return nil, nil, err
	}
	s := resp.Storm
	cpu1, _ := rig.ProcCPU(b.pid)
	idle := &idleResult{Viewers: s.Connected, BaseRSS: base, StormCPU: (cpu1 - cpu0).Seconds()}
	idle.RSS, _ = settledRSS(ctx, b.pid)
	if s.Connected > 0 && idle.RSS > base {
		idle.KiBPerViewer = float64(idle.RSS-base) / 1024 / float64(s.Connected)
	}
	if resp, err = lc.call(liveReq{Op: "ping", Concurrency: o.concurrency}); err != nil {
		return nil, nil, err
	}
	idle.Alive = resp.Alive
	_, err = lc.call(liveReq{Op: "close"})
	return s, idle, err
}

// settledRSS waits until a process's RSS changes by under 1% between two
// readings 250ms apart (at most 5s), and returns the last reading.
func settledRSS(ctx context.Context, pid int) (uint64, error) {
	prev, _, err := rig.ProcMem(pid)
	for deadline := time.Now().Add(5 * time.Second); err == nil && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(250 * time.Millisecond)
		var cur uint64
		if cur, _, err = rig.ProcMem(pid); err != nil {
			break
		}
		if math.Abs(float64(cur)-float64(prev)) < 0.01*float64(prev) {
			return cur, nil
		}
		prev = cur
	}
	return prev, err
}

func fanOutRamp(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker, qos int) (*rampResult, error) {
	creds, err := b.posters(ctx, o.publishers)
	if err != nil {
		return nil, err
	}
	load := liveReq{Op: "load", Addr: b.addr, Conns: o.subscribers, Filter: b.comments, PostTopic: b.post,
		Posters: creds, TimeoutMS: int(o.timeout / time.Millisecond), QoS: qos}
	return ramp(ctx, env, o, lc, b, load, o.rate, o.maxRate)
}

func moderationRamp(ctx context.Context, env cmdio.Env, o liveOptions, lc *liveClient, b *liveBroker) (*rampResult, error) {
	creds, err := b.posters(ctx, o.users)
	if err != nil {
		return nil, err
	}
	load := liveReq{Op: "load", Addr: b.addr, Conns: 1, Filter: b.comments, PostTopic: b.post,
		Posters: creds, TimeoutMS: int(o.timeout / time.Millisecond)}
	return ramp(ctx, env, o, lc, b, load, o.modRate, o.modMax)
}
