package exchange

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
)

var Command = &rig.Command{
	Name:  "exchange",
	Short: "publish throughput and latency of the HTTP API against raw JetStream",
	Long: `Starts 'stadion up' with the bundled example as a separate process on
loopback ports, once per durability mode, and publishes realistic ~1 KiB
results events (demo ODF documents, valid against the example schema):

  (a) raw JetStream publish, waiting for each ack, from N publishers
  (b) HTTP single-event publish from N clients
  (c) HTTP batch publish (--batch events per request) from N clients
  (d) raw JetStream async publish, N publishers with --batch acks in flight
  (e) HTTP single-event publish at a fixed offered rate (open loop)
  (f) raw JetStream publish at the same rate, the reference for (e)
  (g) HTTP GET /healthz from N clients: the HTTP floor, what Go's HTTP
      server and stadion's shared middleware cost with no handler work

Raw JetStream writes the envelopes stadion would store into the same stream,
with the admin key on the engine's client port. It prints events/s and
p50/p99 latency per phase, the ratios b/a and c/d (stadion against raw
JetStream at the same durability), the server's cold start, idle and peak
RSS, and the targets beside them. Targets are never asserted.

Open-loop latency runs from each request's due time, so a stalled server is
charged for every request it delayed. The load runs in this process: on a
small machine it competes with the server for CPU (see the CPU columns).`,
	Example: `stadion bench exchange
stadion bench exchange --modes fast --duration 10s --publishers 128
stadion bench exchange --json > exchange.json
stadion bench exchange --modes fast --profile prof && go tool pprof -top prof/fast-c.pprof`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o exchangeOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the server under test (default: this program)")
		fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each phase")
		fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time at the start of each phase")
		fs.IntVar(&o.publishers, "publishers", 64, "concurrent publishers N in phases a-d")
		fs.IntVar(&o.batch, "batch", 100, "events per batch request (c) and per async window (d), 1-1000")
		fs.Float64Var(&o.rate, "rate", 2000, "offered load of phase e, events per second")
		modes := fs.String("modes", "always,fast", "durability modes to measure, comma-separated")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		fs.StringVar(&o.profile, "profile", "", "write a CPU profile of the server over each phase's measured time to this directory (<durability>-<phase>.pprof)")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench exchange takes no arguments, got %q", strings.Join(args, " "))
			}
			if err := o.parse(*modes); err != nil {
				return err
			}
			return runBenchExchange(ctx, env, o)
		}
	},
}

type exchangeOptions struct {
	bin               string
	duration, warmup  time.Duration
	publishers, batch int
	rate              float64
	modes             []config.Durability
	json              bool
	profile           string
}

func (o *exchangeOptions) parse(modes string) error {
	switch {
	case o.duration <= 0 || o.warmup < 0:
		return cmdio.UsageErr("--duration must be positive and --warmup not negative")
	case o.publishers < 1 || o.publishers > 4096:
		return cmdio.UsageErr("--publishers must be 1-4096")
	case o.batch < 1 || o.batch > 1000:
		return cmdio.UsageErr("--batch must be 1-1000 (the API's batch limit)")
	case o.rate <= 0 || o.rate > 1e6:
		return cmdio.UsageErr("--rate must be above 0 and at most 1000000")
	}
	for m := range strings.SplitSeq(modes, ",") {
		d := config.Durability(strings.TrimSpace(m))
		if d != config.DurabilityAlways && d != config.DurabilityFast {
			return cmdio.UsageErr("--modes: %q is not a durability (always, fast)", d)
		}
		if !slices.Contains(o.modes, d) {
			o.modes = append(o.modes, d)
		}
	}
	return nil
}

func runBenchExchange(ctx context.Context, env cmdio.Env, o exchangeOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	fx, err := newExchangeFixture(o.batch)
	if err != nil {
		return err
	}
	rep := newExchangeReport(o, fx)
	if rep.Disk, err = rig.ProbeFsync(os.TempDir(), fx.envSize, 2000, time.Second); err != nil {
		return err
	}
	for _, d := range o.modes {
		m, err := benchExchangeMode(ctx, env, o, fx, d)
		if err != nil {
			return fmt.Errorf("durability %s: %w", d, err)
		}
		rep.Modes = append(rep.Modes, m)
	}
	if o.json {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	return rep.print(env.Stdout)
}

func newExchangeReport(o exchangeOptions, fx *exchangeFixture) *exchangeReport {
	return &exchangeReport{
		Machine: rig.ThisMachine(),
		Settings: exchangeSetting{
			Server: o.bin, Topic: exchangeTopic, Publishers: o.publishers, Batch: o.batch, Rate: o.rate,
			WarmupSec: o.warmup.Seconds(), DurationSec: o.duration.Seconds(),
			Events: len(fx.data), DataBytes: fx.dataSize, EnvelopeByte: fx.envSize,
		},
	}
}
