package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/ops"
)

// inspectLong explains both inspections (stadion inspect --help).
const inspectLong = `Two inspections:

  system  the running stadion: health scores, water levels and their
          seven-day trend, streams near their limits, missing replicas,
          venues not seen or behind on configuration, keys near expiry,
          old dead letters, lagging subscriptions and sinks, SLO budgets,
          configuration smells. Runs on the server (also daily on its own:
          health.inspection.every), keeps the last 30 reports as JSON and
          a self-contained HTML page (docs/ops.md).
  k8s     the Kubernetes manifests or cluster around it, before the event
          (docs/inspect.md).`

var inspectSystemCmd = &command{
	name:  "system",
	short: "inspect the running system now: scores, risks, trends, findings; JSON and an HTML report (admin)",
	long: `Asks the server to run the daily inspection now, stores the report in the
engine (the last health.inspection.keep, 30 by default, as JSON and HTML)
and prints its findings. --html FILE writes the self-contained HTML page
(scores, the risk table, seven-day trends as small charts, what changed
since the previous report). --show ID prints (or with --html writes) a
stored report instead of running one; --list lists them. --min-grade exits
1 when the overall grade is worse: a gate for CI or the morning of an event.`,
	example: `stadion inspect system
stadion inspect system --html report.html && xdg-open report.html
stadion inspect system --min-grade B --json > inspection.json
stadion inspect system --list`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		htmlOut := fs.String("html", "", "write the report's HTML page to this file")
		show := fs.String("show", "", "read the stored report with this id instead of running one")
		list := fs.Bool("list", false, "list the stored reports")
		minGrade := fs.String("min-grade", "", "exit 1 when the overall grade is worse than this (A-F)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("inspect system takes no arguments")
			}
			if *minGrade != "" && ops.GradeRank(*minGrade) < 0 {
				return usageErr("--min-grade %q: want A, B, C, D or F", *minGrade)
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			if *list {
				var out struct {
					Inspections []string `json:"inspections"`
				}
				if err := r.Do(ctx, "GET", "/v1/inspections", "", nil, nil, &out); err != nil {
					return err
				}
				if rf.json {
					return cmdio.PrintJSON(env.Stdout, out)
				}
				for _, id := range out.Inspections {
					fmt.Fprintln(env.Stdout, id)
				}
				return nil
			}
			var rep ops.Inspection
			if *show != "" {
				err = r.Do(ctx, "GET", "/v1/inspections/"+*show, "", nil, nil, &rep)
			} else {
				err = r.Do(ctx, "POST", "/v1/inspections", "", nil, nil, &rep)
			}
			if err != nil {
				return err
			}
			if *htmlOut != "" {
				f, err := os.OpenFile(*htmlOut, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
				if err != nil {
					return err
				}
				if err := cmdio.ErrOr(ops.WriteHTML(f, rep), f.Close()); err != nil {
					return fmt.Errorf("--html %s: %w", *htmlOut, err)
				}
			}
			if rf.json {
				err = cmdio.PrintJSON(env.Stdout, rep)
			} else {
				printInspection(env.Stdout, rep, *htmlOut)
			}
			if err == nil && *minGrade != "" && ops.Worse(rep.Grade, *minGrade) {
				fmt.Fprintf(env.Stderr, "stadion inspect system: grade %s is worse than --min-grade %s\n", rep.Grade, *minGrade)
				return exitError{1}
			}
			return err
		}
	},
}

func printInspection(w io.Writer, rep ops.Inspection, htmlPath string) {
	fmt.Fprintf(w, "inspection %s: %.0f %s\n", rep.ID, rep.Score, rep.Grade)
	if rep.Changes.Previous != "" {
		fmt.Fprintf(w, "since %s: score %+.1f, %d new, %d resolved\n", rep.Changes.Previous, rep.Changes.ScoreDelta, len(rep.Changes.New), len(rep.Changes.Resolved))
	}
	for _, s := range rep.Sites {
		fmt.Fprintf(w, "  %-16s %3.0f %s\n", s.Name, s.Score, s.Grade)
	}
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "\nno findings")
	} else {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tCODE\tSUBJECT\tMESSAGE")
		for _, f := range rep.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, f.Code, f.Subject, f.Message)
		}
		tw.Flush()
	}
	if !rep.SLOs {
		fmt.Fprintln(w, "\nSLO budgets: not checked (no SLOs configured)")
	}
	if htmlPath != "" {
		fmt.Fprintf(w, "\nHTML report: %s\n", htmlPath)
	}
}
