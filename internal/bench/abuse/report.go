package abuse

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// abuseReport is everything a run of bench abuse measured (--json).
type abuseReport struct {
	Machine  rig.Machine    `json:"machine"`
	Settings abuseSettings  `json:"settings"`
	Targets  abuseTargetSet `json:"targets"`
	Phases   []*abusePhase  `json:"phases"`
}

func (r *abuseReport) print(w io.Writer) error {
	s := r.Settings
	fmt.Fprintf(w, "stadion bench abuse: a legitimate publisher at %g/s on topic %s (backlog %s events of 1 KiB), /readyz every 100 ms\n",
		s.Rate, s.Topic, cmdio.Thousands(float64(s.Backlog)))
	fmt.Fprintf(w, "machine: %d CPUs %s/%s; server: %s up (own process, fresh per phase); attacks and client: this process\n",
		r.Machine.CPUs, r.Machine.OS, r.Machine.Arch, s.Server)
	files := "n/a"
	if len(r.Phases) > 0 {
		files = strconv.FormatUint(r.Phases[0].ServerFiles, 10)
	}
	fmt.Fprintf(w, "each phase: attack set up, then %gs warm-up + %gs measured with it held; open files: bench %d, server %s\n\n",
		s.WarmupSec, s.DurationSec, s.BenchFiles, files)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tATTACK IN FORCE\tPUB P50\tPUB P99\tP99/BASE\tPUB ERRORS\tREADYZ NOT 200\tPEAK RSS\tΔ RSS\tVERDICT")
	for _, ph := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t%d/%d\t%d/%d\t%s\t%+.1f MiB\t%s\n", ph.Name, ph.attackCell(),
			cmdio.FmtMS(ph.Latency.P50), cmdio.FmtMS(ph.Latency.P99), ph.P99Ratio, ph.PublishErrs, ph.Publishes,
			ph.ReadyzBad, ph.ReadyzPolls, cmdio.FmtMiB(ph.PeakRSS), ph.RSSDeltaMiB, ph.verdict())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := r.Targets
	fmt.Fprintf(w, "targets: publish p99 <= %gx baseline, no publish errors, /readyz 200 throughout, peak RSS <= baseline + %g MiB\n",
		t.P99Ratio, t.RSSDeltaMiB)
	for _, ph := range r.Phases {
		if a := ph.Attack; a != nil {
			fmt.Fprintf(w, "%s: %s: %d attempts, %d refused by the server, %d failed on the wire", ph.Name, a.Description, a.Attempts, a.Refused, a.Failed)
			if a.Refusal != "" {
				fmt.Fprintf(w, " (%s)", a.Refusal)
			}
			if a.Accepted > 0 {
				fmt.Fprintf(w, ", %d ACCEPTED", a.Accepted)
			}
			if a.FirstError != "" {
				fmt.Fprintf(w, " (first: %s)", a.FirstError)
			}
			fmt.Fprintln(w)
		}
		for _, e := range []struct{ what, msg string }{{"first publish error", ph.FirstPubErr}, {"first /readyz failure", ph.FirstReadyz}, {"server exit", ph.ServerExit}} {
			if e.msg != "" {
				fmt.Fprintf(w, "%s: %s: %s\n", ph.Name, e.what, e.msg)
			}
		}
	}
	return nil
}

// attackCell says how much of the attack was in force.
func (ph *abusePhase) attackCell() string {
	a := ph.Attack
	switch {
	case a == nil:
		return "-"
	case a.PerSec > 0:
		return cmdio.Thousands(a.PerSec) + " connects/s"
	}
	return fmt.Sprintf("%d held", a.Held)
}

func (ph *abusePhase) verdict() string {
	if ph.MissedReason == "" {
		return ph.Verdict
	}
	return ph.Verdict + " (" + ph.MissedReason + ")"
}
