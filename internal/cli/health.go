package cli

import (
	"context"
	"flag"
	"fmt"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"io"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/ops"
)

var healthCmd = &command{
	name:  "health",
	short: "health scores and grades of the cloud, each venue and each component; the high-risk checks (admin or metrics role)",
	long: `Prints the latest health evaluation of a running server: the overall score
(0-100) and grade (A-F), each site's (the cloud and every venue), every
component's with its worst check, and the risk table: the checks that cost
points, the largest impact on their site's score first. Scores combine each
check's value against its thresholds with its trend and its water level
over the last day; the formula, the checks and how to tune them
(health: in stadion.yaml) are in docs/ops.md.

--fresh evaluates now instead of reading the last evaluation (at most
health.interval old). --min-grade exits 1 when the overall grade is worse.`,
	example: `stadion health
stadion health --json | jq '.risks[:5]'
stadion health --min-grade B   # exit 1 when worse than B`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		fresh := fs.Bool("fresh", false, "evaluate every check now")
		minGrade := fs.String("min-grade", "", "exit 1 when the overall grade is worse than this (A-F)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("health takes no arguments")
			}
			if *minGrade != "" && ops.GradeRank(*minGrade) < 0 {
				return usageErr("--min-grade %q: want A, B, C, D or F", *minGrade)
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			path := "/v1/health"
			if *fresh {
				path += "?fresh=1"
			}
			var rep ops.Report
			if err := r.Do(ctx, "GET", path, "", nil, nil, &rep); err != nil {
				return err
			}
			if rf.json {
				err = cmdio.PrintJSON(env.Stdout, rep)
			} else {
				printHealth(env.Stdout, rep)
			}
			if err == nil && *minGrade != "" && ops.Worse(rep.Grade, *minGrade) {
				fmt.Fprintf(env.Stderr, "stadion health: grade %s is worse than --min-grade %s\n", rep.Grade, *minGrade)
				return exitError{1}
			}
			return err
		}
	},
}

func printHealth(w io.Writer, rep ops.Report) {
	fmt.Fprintf(w, "health %.0f %s  (evaluated %s)\n\n", rep.Score, rep.Grade, shortTime(rep.At))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tSCORE\tGRADE\tCOMPONENT\tSCORE\tGRADE\tWORST CHECK\tVALUE\tWARN\tCRIT")
	for _, s := range rep.Sites {
		for i, c := range s.Components {
			site, ss, sg := "", "", ""
			if i == 0 {
				site, ss, sg = s.Name, fmt.Sprintf("%.0f", s.Score), s.Grade
			}
			wc := c.Checks[0]
			for _, r := range c.Checks[1:] {
				if r.Score < wc.Score {
					wc = r
				}
			}
			if wc.Score >= 100 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%s\t-\t\t\t\n", site, ss, sg, c.Name, c.Score, c.Grade)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%g\t%g\n", site, ss, sg, c.Name, c.Score, c.Grade, wc.Name, value(wc.Value, wc.Unit), wc.Warn, wc.Crit)
		}
	}
	tw.Flush()
	if len(rep.Risks) > 0 {
		fmt.Fprintf(w, "\nrisks (by impact on the site's score):\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IMPACT\tSITE\tCOMPONENT\tCHECK\tVALUE\tWARN\tCRIT\tSCORE\tDETAIL")
		for _, r := range rep.Risks {
			fmt.Fprintf(tw, "%.1f\t%s\t%s\t%s\t%s\t%g\t%g\t%.0f\t%s\n", r.Impact, r.Site, r.Component, r.Check, value(r.Value, r.Unit), r.Warn, r.Crit, r.Score, r.Detail)
		}
		tw.Flush()
	}
	if len(rep.Alerts) > 0 {
		fmt.Fprintf(w, "\nalerts firing:\n")
		for _, a := range rep.Alerts {
			fmt.Fprintf(w, "  [%s] %s\n", a.Severity, a.Summary)
		}
	}
}

func value(v float64, unit string) string {
	if unit == "" || unit == "count" {
		return fmt.Sprintf("%.4g", v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}
