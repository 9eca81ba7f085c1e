// Package limits is `stadion bench limits`: what runtime limits cost the
// publish path (0, 10 and 1,000 limits in force), how long a limit set on
// one replica takes to refuse on another, and an MQTT connect storm from a
// flooding client with and without a plan that caps it.
package limits

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// Command is `stadion bench limits`.
var Command = &rig.Command{
	Name:  "limits",
	Short: "publish throughput and p99 with 0, 10 and 1,000 limits; limit set to first 429 on another replica; an MQTT connect storm capped by a plan",
	Long: `Starts a NATS JetStream engine in this process and two stadion up
replicas on it (--nats-url), then:

1. Publishes single events over HTTP to one replica from --publishers
   closed-loop clients for --duration with 0 limits (the reference), 10
   and 1,000 limits in force (none matching the publisher: User-Agent
   patterns, clients, networks, routes, as an on-call team would leave
   them), --rounds times, keeping each count's best run. Target: at most
   5% less throughput at 1,000 limits. It also times, in this process,
   deciding the publishers' request against the same limits.
2. With the 1,000 limits in force, --trials times: runs stadion limits
   set against one replica (a new process, as an operator would) and
   polls the other with the limited User-Agent until it answers 429;
   prints p50 and p99. Target: 1 s.
3. An MQTT connect storm on one replica: --flooders connections in a loop
   as client ids flood-N, while one viewer connects --viewer-rate times a
   second; once without a plan (the reference) and once with the plan
   "storm" applied (flood-* CONNECTs capped at --cap a second). Prints the
   flood's accepted connects per second, the viewers' success rate and
   their connect p99.

Figures on a shared machine are noisy; the ratios of one run are what
compares.`,
	Example: `stadion bench limits
stadion bench limits --duration 10s --publishers 32 --trials 20 --json`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o options
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the servers under test (default: this program)")
		fs.IntVar(&o.publishers, "publishers", 16, "concurrent HTTP publishers")
		fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each throughput run")
		fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each throughput run")
		fs.IntVar(&o.many, "limits", 1000, "limits in force in the largest run")
		fs.IntVar(&o.trials, "trials", 20, "propagation trials")
		fs.IntVar(&o.rounds, "rounds", 2, "throughput rounds (each count's best is kept)")
		fs.IntVar(&o.flooders, "flooders", 8, "connections the flooding client keeps connecting")
		fs.IntVar(&o.viewerRate, "viewer-rate", 20, "legitimate viewer connects per second during the storm")
		fs.IntVar(&o.cap, "cap", 100, "flood CONNECTs per second the plan lets through")
		fs.DurationVar(&o.storm, "storm", 5*time.Second, "length of each storm")
		asJSON := fs.Bool("json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench limits takes no arguments")
			}
			if o.publishers < 1 || o.duration < 500*time.Millisecond || o.many < 10 || o.many > 1900 || o.trials < 1 || o.rounds < 1 || o.flooders < 1 || o.viewerRate < 1 || o.cap < 1 || o.storm < time.Second {
				return cmdio.UsageErr("--publishers ≥ 1, --rounds ≥ 1, --duration ≥ 500ms, --limits 10-1900, --trials ≥ 1, --flooders ≥ 1, --viewer-rate ≥ 1, --cap ≥ 1, --storm ≥ 1s")
			}
			ctx, stop, err := rig.Prepare(ctx, &o.bin)
			if err != nil {
				return err
			}
			defer stop()
			res, err := run(ctx, env, o)
			if err != nil {
				return err
			}
			if *asJSON {
				return cmdio.PrintJSON(env.Stdout, res)
			}
			res.print(env.Stdout)
			return nil
		}
	},
}

type options struct {
	bin                              string
	publishers, many, trials, rounds int
	flooders, viewerRate, cap        int
	duration, warmup, storm          time.Duration
}

type throughput struct {
	Limits       int     `json:"limits"`
	EventsPerSec float64 `json:"events_per_sec"`
	P99MS        float64 `json:"p99_ms"`
	Errors       int64   `json:"errors"`
}

type storm struct {
	Plan            bool    `json:"plan"`
	FloodAttempts   float64 `json:"flood_connects_tried_per_sec"`
	FloodAccepted   float64 `json:"flood_connects_accepted_per_sec"`
	ViewerTried     int     `json:"viewer_connects"`
	ViewerOK        int     `json:"viewer_connects_ok"`
	ViewerP99MS     float64 `json:"viewer_connect_p99_ms"`
	ViewerSuccessPC float64 `json:"viewer_success_pct"`
}

type result struct {
	Publishers int          `json:"publishers"`
	Throughput []throughput `json:"throughput"`
	LossPct    float64      `json:"loss_at_most_pct"`
	// CheckNS is the in-process cost of deciding one request, by limits
	// in force (the same limits, the publishers' request).
	CheckNS    map[int]float64 `json:"check_ns_per_request"`
	PropP50MS  float64         `json:"propagation_p50_ms"`
	PropP99MS  float64         `json:"propagation_p99_ms"`
	PropTrials int             `json:"propagation_trials"`
	Storms     []storm         `json:"storms"`
	Cap        int             `json:"cap_per_sec"`
	Checks     []rig.Check     `json:"checks"`
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "runtime limits: two stadion replicas on one engine, %d HTTP publishers (shared 2-core machines are noisy)\n", r.Publishers)
	fmt.Fprintln(w, "  limits in force   events/s   p99 ms   errors")
	for _, t := range r.Throughput {
		fmt.Fprintf(w, "  %15d   %8.0f   %6.2f   %6d\n", t.Limits, t.EventsPerSec, t.P99MS, t.Errors)
	}
	fmt.Fprintf(w, "  throughput lost at the most limits (best of each): %.1f%%\n", r.LossPct)
	for _, t := range r.Throughput {
		fmt.Fprintf(w, "  deciding one request in process with %d limits: %.0f ns\n", t.Limits, r.CheckNS[t.Limits])
	}
	fmt.Fprintf(w, "limit set on one replica to the first 429 on the other, %d trials: p50 %.0f ms, p99 %.0f ms\n", r.PropTrials, r.PropP50MS, r.PropP99MS)
	fmt.Fprintf(w, "MQTT connect storm (flood-* client ids; plan caps them at %d/s)\n", r.Cap)
	fmt.Fprintln(w, "  plan   flood tried/s   flood accepted/s   viewers ok   viewer p99 ms")
	for _, s := range r.Storms {
		plan := "off"
		if s.Plan {
			plan = "on "
		}
		fmt.Fprintf(w, "  %s    %13.0f   %16.0f   %4d/%-4d   %13.2f\n", plan, s.FloodAttempts, s.FloodAccepted, s.ViewerOK, s.ViewerTried, s.ViewerP99MS)
	}
	fmt.Fprintln(w, "targets:")
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  %-48s %12s %s %-10s %s\n", c.Name, c.Shown(), c.Op(), c.Format(c.Target), c.Verdict())
	}
}
