package exchange

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/exchange"
	"github.com/stadion-dev/stadion/internal/loop"
)

// ClusterCommand is `stadion bench cluster`: the exchange benchmark's
// fixture, rig and phases against three clustered nodes.
var ClusterCommand = &rig.Command{
	Name:  "cluster",
	Short: "publish throughput and failover of a three-node replicated cluster",
	Long: `Starts three 'stadion up' processes as one cluster (engine.replicas 3) on
loopback ports, once per durability mode, and publishes ~1 KiB results events
(the bundled example's topic) spread over the three nodes:

  (a) raw JetStream R3 publish+ack on the same three nodes (the reference)
  (b) HTTP single-event publish, R3
  (c) failover: HTTP publishes at --rate while the leader of the topic's
      stream is kill -9ed; a failed request is retried on the next node.
      It reports the time from the kill to the first acknowledged publish
      and the p99 of the publishes during the failover window.

Then one node with engine.replicas 1 for the cost of replication:

  (d) raw JetStream R1 publish+ack, (e) HTTP single-event publish, R1

It prints events/s and p50/p99 per phase and the ratios b/a (target >= 0.7
in durability always) and b/e. The three nodes and this load share this
machine's cores: on a small machine the figures measure contention as much
as replication. Targets are never asserted.`,
	Example: `stadion bench cluster
stadion bench cluster --modes always --duration 10s --publishers 64
stadion bench cluster --json > cluster.json
stadion bench cluster --modes always --profile prof && go tool pprof -top prof/always-b-n1.pprof`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o clusterBenchOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the nodes under test (default: this program)")
		fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each phase")
		fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time at the start of each phase")
		fs.IntVar(&o.publishers, "publishers", 32, "concurrent publishers in phases a, b, d and e")
		fs.Float64Var(&o.rate, "rate", 200, "offered load of the failover phase, events per second")
		modes := fs.String("modes", "always,fast", "durability modes to measure, comma-separated")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		fs.StringVar(&o.profile, "profile", "", "write CPU profiles of the three nodes and of the load during phases a and b into this directory")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench cluster takes no arguments, got %q", strings.Join(args, " "))
			}
			eo := exchangeOptions{duration: o.duration, warmup: o.warmup, publishers: o.publishers, batch: 1, rate: o.rate}
			if err := eo.parse(*modes); err != nil {
				return err
			}
			o.modes = eo.modes
			return runBenchCluster(ctx, env, o)
		}
	},
}

type clusterBenchOptions struct {
	bin              string
	duration, warmup time.Duration
	publishers       int
	rate             float64
	modes            []config.Durability
	json             bool
	profile          string // a directory for CPU profiles, or ""
}

// clusterBenchMode is one durability mode's figures.
type clusterBenchMode struct {
	Durability string        `json:"durability"`
	Phases     []phaseResult `json:"phases"`
	// RatioR3 is b/a: stadion R3 against raw JetStream R3 (target >= 0.7
	// in always).
	RatioR3 float64 `json:"ratio_http_r3_to_raw_r3"`
	// RatioReplication is b/e: R3 throughput as a share of R1's.
	RatioReplication float64 `json:"ratio_http_r3_to_http_r1"`
	// FailoverMS is the time from the kill -9 of the stream leader to the
	// first acknowledged publish.
	FailoverMS float64 `json:"failover_first_publish_ms"`
	// FailoverP99MS is the p99 of publishes due in the failover window.
	FailoverP99MS float64 `json:"failover_p99_ms"`
	Victim        string  `json:"victim"`
}

func runBenchCluster(ctx context.Context, env cmdio.Env, o clusterBenchOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	fx, err := newExchangeFixture(1)
	if err != nil {
		return err
	}
	var modes []clusterBenchMode
	for _, d := range o.modes {
		m, err := benchClusterMode(ctx, env, o, fx, d)
		if err != nil {
			return fmt.Errorf("durability %s: %w", d, err)
		}
		modes = append(modes, *m)
	}
	if o.json {
		return cmdio.PrintJSON(env.Stdout, map[string]any{"modes": modes, "nodes": 3, "note": "three nodes and the load share this machine's cores"})
	}
	printClusterBench(env.Stdout, modes)
	return nil
}

func benchClusterMode(ctx context.Context, env cmdio.Env, o clusterBenchOptions, fx *exchangeFixture, d config.Durability) (*clusterBenchMode, error) {
	tmp, err := os.MkdirTemp("", "stadion-bench-cluster-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cfg, err := writeBenchConfig(filepath.Join(tmp, "config"), d)
	if err != nil {
		return nil, err
	}
	m := &clusterBenchMode{Durability: string(d)}
	fmt.Fprintf(env.Stderr, "durability %s: starting three clustered nodes\n", d)
	prof, err := newClusterProfiler(o.profile, 3)
	if err != nil {
		return nil, err
	}
	nodes, err := startClusterChildren(ctx, o.bin, tmp, cfg, 3, prof)
	if err != nil {
		return nil, err
	}
	defer stopChildren(env, nodes)
	rigs := make([]*exchangeRig, len(nodes))
	for i, n := range nodes {
		if rigs[i], err = newExchangeRig(ctx, n, fx, o.publishers); err != nil {
			return nil, err
		}
		defer rigs[i].close()
	}
	spread := func(op func(*exchangeRig, context.Context, int) (int, error)) func(context.Context, int) (int, error) {
		return func(ctx context.Context, w int) (int, error) { return op(rigs[w%len(rigs)], ctx, w) }
	}
	closed := rig.LoadSpec{Workers: o.publishers, Warmup: o.warmup, Measure: o.duration}
	for _, ph := range []struct {
		key, title string
		op         func(context.Context, int) (int, error)
	}{
		{"a", fmt.Sprintf("raw JetStream R3 publish+ack, %d publishers over 3 nodes", o.publishers), spread((*exchangeRig).rawPublish)},
		{"b", fmt.Sprintf("HTTP single event R3, %d clients over 3 nodes", o.publishers), spread((*exchangeRig).httpSingle)},
	} {
		profiled := prof.during(ctx, string(d), ph.key, closed.Warmup, closed.Measure)
		pr, err := clusterPhase(ctx, env, rigs[0], string(d), ph.key, ph.title, closed, ph.op)
		if perr := profiled(); err == nil && perr != nil {
			err = perr
		}
		if err != nil {
			return nil, err
		}
		m.Phases = append(m.Phases, pr)
	}
	if err := benchFailover(ctx, env, o, m, nodes, rigs); err != nil {
		return nil, err
	}
	r1, err := benchR1(ctx, env, o, fx, tmp, cfg, string(d))
	if err != nil {
		return nil, err
	}
	m.Phases = append(m.Phases, r1...)
	if a := m.Phases[0].EventsPerSec; a > 0 {
		m.RatioR3 = m.Phases[1].EventsPerSec / a
	}
	if e := r1[1].EventsPerSec; e > 0 {
		m.RatioReplication = m.Phases[1].EventsPerSec / e
	}
	return m, nil
}

func clusterPhase(ctx context.Context, env cmdio.Env, purge *exchangeRig, mode, key, title string, spec rig.LoadSpec, op func(context.Context, int) (int, error)) (phaseResult, error) {
	if err := purge.purge(ctx); err != nil {
		return phaseResult{}, err
	}
	stop := cmdio.ShowProgress(env.Stderr, fmt.Sprintf("%s (%s) %s", mode, key, title), spec.Warmup+spec.Measure)
	res := rig.RunLoad(ctx, spec, op)
	stop()
	if err := ctx.Err(); err != nil {
		return phaseResult{}, err
	}
	if res.Errors > 0 && res.Errors == res.Requests {
		return phaseResult{}, fmt.Errorf("phase (%s) %s: no request succeeded: %v", key, title, res.FirstErr)
	}
	pr := newPhaseResult(exchangePhase{key: key, name: key, title: title, spec: spec}, res)
	fmt.Fprintf(env.Stderr, "  %s events/s, p50 %s, p99 %s, %d errors\n", cmdio.Thousands(pr.EventsPerSec), pr.lat(pr.Latency.P50), pr.lat(pr.Latency.P99), pr.Errors)
	return pr, nil
}

// benchFailover publishes at o.rate, each request retried on the next live
// node until acknowledged, and kill -9s the topic stream's leader after
// the warm-up.
func benchFailover(ctx context.Context, env cmdio.Env, o clusterBenchOptions, m *clusterBenchMode, nodes []*rig.Child, rigs []*exchangeRig) error {
	victim, err := streamLeader(ctx, nodes[0], exchange.StreamName(exchangeTopic))
	if err != nil {
		return err
	}
	m.Victim = fmt.Sprintf("n%d", victim+1)
	var dead [3]atomic.Bool
	var killedAt atomic.Int64 // unix nanos of the kill
	var firstAck atomic.Int64 // unix nanos of the first ack after it
	op := func(ctx context.Context, w int) (int, error) {
		var err error
		for i := range 2 * len(rigs) {
			n := (w + i) % len(rigs)
			if dead[n].Load() {
				continue
			}
			if _, err = rigs[n].httpSingle(ctx, w); err == nil {
				if k := killedAt.Load(); k != 0 {
					firstAck.CompareAndSwap(0, time.Now().UnixNano())
				}
				return 1, nil
			}
			if ctx.Err() != nil {
				return 0, err
			}
		}
		return 0, err
	}
	spec := rig.LoadSpec{Workers: max(8, int(o.rate/50)), Rate: o.rate, Warmup: o.warmup, Measure: o.duration + 5*time.Second}
	go func() {
		if !loop.SleepUntil(ctx, time.Now().Add(o.warmup+time.Second)) {
			return
		}
		dead[victim].Store(true)
		killedAt.Store(time.Now().UnixNano())
		_ = nodes[victim].Cmd.Process.Kill()
	}()
	title := fmt.Sprintf("failover: HTTP %g/s offered, kill -9 of %s (stream leader)", o.rate, m.Victim)
	pr, err := clusterPhase(ctx, env, rigs[(victim+1)%len(rigs)], m.Durability, "c", title, spec, op)
	if err != nil {
		return err
	}
	m.Phases = append(m.Phases, pr)
	m.FailoverP99MS = pr.Latency.P99
	if k, f := killedAt.Load(), firstAck.Load(); k != 0 && f != 0 {
		m.FailoverMS = float64(f-k) / 1e6
	}
	fmt.Fprintf(env.Stderr, "  first publish acknowledged %.0f ms after the kill\n", m.FailoverMS)
	return nil
}

// benchR1 measures one node with engine.replicas 1: the cost of
// replication.
func benchR1(ctx context.Context, env cmdio.Env, o clusterBenchOptions, fx *exchangeFixture, tmp, cfg, mode string) ([]phaseResult, error) {
	srv, err := rig.StartChild(ctx, o.bin, filepath.Join(tmp, "r1"), "--config", cfg, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	defer srv.Stop(20 * time.Second)
	r, err := newExchangeRig(ctx, srv, fx, o.publishers)
	if err != nil {
		return nil, err
	}
	defer r.close()
	closed := rig.LoadSpec{Workers: o.publishers, Warmup: o.warmup, Measure: o.duration}
	var out []phaseResult
	for _, ph := range []struct {
		key, title string
		op         func(*exchangeRig, context.Context, int) (int, error)
	}{
		{"d", fmt.Sprintf("raw JetStream R1 publish+ack, one node, %d publishers", o.publishers), (*exchangeRig).rawPublish},
		{"e", fmt.Sprintf("HTTP single event R1, one node, %d clients", o.publishers), (*exchangeRig).httpSingle},
	} {
		pr, err := clusterPhase(ctx, env, r, mode, ph.key, ph.title, closed, func(ctx context.Context, w int) (int, error) { return ph.op(r, ctx, w) })
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// startClusterChildren starts n clustered nodes at once (each waits for
// its peers before it is ready).
func startClusterChildren(ctx context.Context, bin, tmp, cfg string, n int, prof *clusterProfiler) ([]*rig.Child, error) {
	var listen, routes []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listen = append(listen, ln.Addr().String())
		routes = append(routes, "nats-route://"+ln.Addr().String())
		ln.Close()
	}
	nodes := make([]*rig.Child, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			args := append([]string{"--config", cfg, "--log-level", "warn", "--replicas", "3", "--node", fmt.Sprintf("n%d", i+1),
				"--cluster", listen[i], "--routes", strings.Join(routes, ",")}, prof.flags(i)...)
			nodes[i], errs[i] = rig.StartChild(ctx, bin, filepath.Join(tmp, fmt.Sprintf("n%d", i+1)), args...)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, c := range nodes {
				if c != nil {
					c.Stop(5 * time.Second)
				}
			}
			return nil, fmt.Errorf("node n%d: %w", i+1, err)
		}
	}
	return nodes, nil
}

func stopChildren(env cmdio.Env, nodes []*rig.Child) {
	for _, c := range nodes {
		if err := c.Stop(20 * time.Second); err != nil && !strings.Contains(err.Error(), "signal: killed") {
			fmt.Fprintf(env.Stderr, "warning: %v\n", err)
		}
	}
}

// clusterStatus is the part of GET /v1/cluster the benchmark reads: where
// every stadion stream's copies are.
type clusterStatus struct {
	Streams map[string]engine.StreamPlacement `json:"streams"`
}

// streamLeader asks a node's GET /v1/cluster which node leads stream.
func streamLeader(ctx context.Context, c *rig.Child, stream string) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.Endpoints().HTTP+"/v1/cluster", nil)
		req.Header.Set("Authorization", "Bearer "+c.AdminKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var st clusterStatus
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
			resp.Body.Close()
			var i int
			if _, serr := fmt.Sscanf(st.Streams[stream].Leader, "n%d", &i); err == nil && serr == nil {
				return i - 1, nil
			}
		}
		if !loop.SleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			return 0, ctx.Err()
		}
	}
	return 0, fmt.Errorf("no leader for stream %s in 30s", stream)
}

func printClusterBench(w io.Writer, modes []clusterBenchMode) {
	fmt.Fprintln(w, "stadion bench cluster — three nodes and this load share this machine's cores")
	for _, m := range modes {
		fmt.Fprintf(w, "\ndurability %s\n", m.Durability)
		for _, p := range m.Phases {
			fmt.Fprintf(w, "  (%s) %-70s %10s ev/s  p50 %8s  p99 %8s  errors %d\n", p.Key, p.Title, cmdio.Thousands(p.EventsPerSec), p.lat(p.Latency.P50), p.lat(p.Latency.P99), p.Errors)
		}
		target := ""
		if m.Durability == string(config.DurabilityAlways) {
			target = " (target >= 0.70)"
		}
		fmt.Fprintf(w, "  stadion R3 / raw JetStream R3 (b/a): %.2f%s\n", m.RatioR3, target)
		fmt.Fprintf(w, "  stadion R3 / stadion R1 (b/e):       %.2f (the cost of replication)\n", m.RatioReplication)
		fmt.Fprintf(w, "  failover: kill -9 of %s (stream leader) to first acknowledged publish: %.0f ms; publish p99 during failover: %.1f ms\n", m.Victim, m.FailoverMS, m.FailoverP99MS)
	}
}
