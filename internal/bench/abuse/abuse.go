package abuse

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
)

var Command = &rig.Command{
	Name:  "abuse",
	Short: "a legitimate client's publish latency and /readyz while the server is attacked",
	Long: `Starts 'stadion up' as a separate process on loopback ports, once per phase,
fills a topic with a backlog, and measures a legitimate client beside each
resource attack: its publish latency (p50/p99 of POST /v1/topics/{t}/events
at --rate, open loop), /readyz polled every 100 ms, and the server's peak
resident memory (VmRSS sampled every 100 ms):

  baseline    no attack
  sse         --sse streams (replaying the topic from the start) on one
              subscriber key, that never read (a 4 KiB receive buffer each)
  mqtt-half   --half anonymous MQTT connections with keep-alive 0 that send
              the fixed header of a 64 KiB PUBLISH and stop
  mqtt-auth   MQTT CONNECTs with a bad password at --connects per second

Each attack is set up first, then held for --duration while the client is
measured. Targets (printed, never asserted): publish p99 at most 2x the
baseline's, /readyz 200 throughout, peak RSS at most baseline + 256 MiB.
Everything stays on loopback; this process and the server each lift their
open-file limit to the hard limit.`,
	Example: `stadion bench abuse
stadion bench abuse --attacks sse --sse 2000 --duration 30s
stadion bench abuse --json > abuse.json`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o abuseOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the server under test (default: this program)")
		fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured time of each phase, with its attack held")
		fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured publishing before each phase's attack starts")
		fs.Float64Var(&o.rate, "rate", 200, "the legitimate client's publishes per second")
		fs.IntVar(&o.backlog, "backlog", 20000, "events (1 KiB each) in the topic before each phase: what a replaying stream sends")
		fs.IntVar(&o.sse, "sse", 600, "non-reading SSE streams of attack sse")
		fs.IntVar(&o.half, "half", 4000, "half-sent MQTT PUBLISH connections of attack mqtt-half")
		fs.Float64Var(&o.connects, "connects", 10000, "bad-password MQTT CONNECTs per second of attack mqtt-auth")
		attacks := fs.String("attacks", "sse,mqtt-half,mqtt-auth", "attacks to run after the baseline, comma-separated")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench abuse takes no arguments, got %q", strings.Join(args, " "))
			}
			if err := o.parse(*attacks); err != nil {
				return err
			}
			return runBenchAbuse(ctx, env, o)
		}
	},
}

type abuseOptions struct {
	bin              string
	duration, warmup time.Duration
	rate             float64
	backlog          int
	sse, half        int
	connects         float64
	attacks          []string
	json             bool
}

// abuseAttackNames are the attacks, in the order they run.
var abuseAttackNames = []string{"sse", "mqtt-half", "mqtt-auth"}

func (o *abuseOptions) parse(attacks string) error {
	switch {
	case o.duration <= 0 || o.warmup < 0:
		return cmdio.UsageErr("--duration must be positive and --warmup not negative")
	case o.rate <= 0 || o.rate > 100000:
		return cmdio.UsageErr("--rate must be above 0 and at most 100000")
	case o.backlog < 0 || o.backlog > 10_000_000:
		return cmdio.UsageErr("--backlog must be 0-10000000")
	case o.sse < 1 || o.sse > 100000, o.half < 1 || o.half > 100000:
		return cmdio.UsageErr("--sse and --half must be 1-100000")
	case o.connects <= 0 || o.connects > 1e6:
		return cmdio.UsageErr("--connects must be above 0 and at most 1000000")
	}
	for a := range strings.SplitSeq(attacks, ",") {
		a = strings.TrimSpace(a)
		if !slices.Contains(abuseAttackNames, a) {
			return cmdio.UsageErr("--attacks: %q is not an attack (%s)", a, strings.Join(abuseAttackNames, ", "))
		}
		if !slices.Contains(o.attacks, a) {
			o.attacks = append(o.attacks, a)
		}
	}
	return nil
}

func runBenchAbuse(ctx context.Context, env cmdio.Env, o abuseOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	rig.RaiseFileLimit()
	dir, err := os.MkdirTemp("", "stadion-bench-abuse-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rep := &abuseReport{
		Machine:  rig.ThisMachine(),
		Settings: abuseSettingsOf(o),
		Targets:  abuseTargets,
	}
	rep.Settings.BenchFiles = openFileLimit(os.Getpid())
	for _, name := range append([]string{"baseline"}, o.attacks...) {
		if !o.json {
			fmt.Fprintf(env.Stderr, "phase %s\n", name)
		}
		ph, err := runAbusePhase(ctx, env, o, dir, name)
		if err != nil {
			return fmt.Errorf("phase %s: %w", name, err)
		}
		rep.Phases = append(rep.Phases, ph)
	}
	rep.judge()
	if o.json {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	return rep.print(env.Stdout)
}
