package gate

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var Command = &rig.Command{
	Name:  "gate",
	Short: "edge scan decisions against raw Ed25519 verification, and catch-up after a cut",
	Long: `Starts a cloud ('stadion up --leaf') and a venue edge ('stadion edge') as
separate processes, the edge dialing the cloud through a loopback proxy that
can cut the link.

  decisions  --clients concurrent gate clients scan issued tickets on the
             edge's POST /v1/scan (signature checked, every decision stored
             durably before it is answered) for --duration after a warm-up:
             decisions/s and p50/p99 latency.
  ceiling    in this process, the same codes' Ed25519 signatures verified
             on every core for 2 s: the raw verification rate, the ceiling
             of any signature-checking gate on this machine.
  catch-up   the link is cut, --catchup fresh tickets are scanned at the
             edge, the link is healed and the time until the cloud's venue
             view has every one of them is measured.

Targets (>= 5,000 decisions/s, p99 <= 20 ms, catch-up <= 30 s) are printed,
never asserted.`,
	Example: `stadion bench gate
stadion bench gate --clients 32 --duration 10s --catchup 100000 --json`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o gateBenchOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as cloud and edge (default: this program)")
		fs.IntVar(&o.clients, "clients", 32, "concurrent gate clients")
		fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of the decisions phase")
		fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before it")
		fs.IntVar(&o.tickets, "tickets", 20000, "tickets scanned in the decisions phase (then scanned again)")
		fs.IntVar(&o.catchup, "catchup", 100000, "scans made while the link is cut (0 skips the phase)")
		fs.BoolVar(&o.linked, "linked", false, "keep the link up during the decisions phase (the cloud then shares this machine's cores)")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench gate takes no arguments, got %q", strings.Join(args, " "))
			}
			if o.clients < 1 || o.tickets < 1 || o.catchup < 0 {
				return cmdio.UsageErr("--clients and --tickets must be positive, --catchup 0 or more")
			}
			return runBenchGate(ctx, env, o)
		}
	},
}

type gateBenchOptions struct {
	bin              string
	clients          int
	duration, warmup time.Duration
	tickets, catchup int
	linked, json     bool
}

// gateReport is what bench gate prints.
type gateReport struct {
	Machine   rig.Machine   `json:"machine"`
	Decisions gateDecisions `json:"decisions"`
	Ceiling   gateCeiling   `json:"ceiling"`
	CatchUp   *gateCatchUp  `json:"catch_up,omitempty"`
}

type gateDecisions struct {
	Clients   int         `json:"clients"`
	Linked    bool        `json:"linked"`
	PerSec    float64     `json:"decisions_per_sec"`
	Latency   rig.Latency `json:"latency"`
	Accepted  int64       `json:"accepted"`
	Rejected  int64       `json:"rejected"`
	Errors    int64       `json:"errors"`
	TargetMet bool        `json:"target_met"`
}

type gateCeiling struct {
	Cores  int     `json:"cores"`
	PerSec float64 `json:"verifications_per_sec"`
	Ratio  float64 `json:"decisions_to_verifications"`
}

type gateCatchUp struct {
	Scans     int     `json:"scans"`
	CutScanS  float64 `json:"scanning_while_cut_s"`
	Seconds   float64 `json:"seconds_after_heal"`
	ViewS     float64 `json:"view_seconds_after_heal"`
	TargetMet bool    `json:"target_met"`
}

func runBenchGate(ctx context.Context, env cmdio.Env, o gateBenchOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	gr, err := startGateRig(ctx, env, o)
	if err != nil {
		return err
	}
	defer gr.stop()
	rep := &gateReport{Machine: rig.ThisMachine()}
	if err := gr.decisions(ctx, env, o, rep); err != nil {
		return err
	}
	if err := gr.settle(ctx); err != nil {
		return err
	}
	rep.Ceiling = verifyCeiling(gr.codes, gr.pub)
	rep.Ceiling.Ratio = rep.Decisions.PerSec / rep.Ceiling.PerSec
	if o.catchup > 0 {
		if rep.CatchUp, err = gr.catchUp(ctx, env, o); err != nil {
			return err
		}
	}
	if o.json {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	rep.print(env.Stdout)
	return nil
}

func (r *gateReport) print(w io.Writer) {
	d, c := r.Decisions, r.Ceiling
	fmt.Fprintf(w, "stadion bench gate  (%d CPUs, %s/%s, %s)\n", r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, r.Machine.GoVersion)
	link := "link cut: the edge alone on this machine"
	if d.Linked {
		link = "link up: the cloud shares this machine"
	}
	fmt.Fprintf(w, "  decisions  edge POST /v1/scan, %d clients   %8.0f/s   p50 %.2f ms   p99 %.2f ms   (%d accepted, %d rejected, %d errors; %s)\n",
		d.Clients, d.PerSec, d.Latency.P50, d.Latency.P99, d.Accepted, d.Rejected, d.Errors, link)
	fmt.Fprintf(w, "  ceiling    raw Ed25519 verify, %d cores       %8.0f/s   decisions/verifications = %.2f\n", c.Cores, c.PerSec, c.Ratio)
	fmt.Fprintf(w, "  target     >= 5000/s and p99 <= 20 ms: %s\n", metText(d.TargetMet))
	if cu := r.CatchUp; cu != nil {
		fmt.Fprintf(w, "  catch-up   %d scans made while cut (in %.1f s) were stored in the cloud %.1f s after the link returned;\n", cu.Scans, cu.CutScanS, cu.Seconds)
		fmt.Fprintf(w, "             the venue view and admissions topic had them all after %.1f s\n", cu.ViewS)
		fmt.Fprintf(w, "  target     <= 30 s: %s\n", metText(cu.TargetMet))
	}
}

func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
