package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/ops"
)

var sloCmd = &command{
	name:  "slo",
	short: "show SLOs: objective, error budget left and burn rates (admin or metrics role)",
	long: `Lists every SLO of the configuration (slos: in stadion.yaml) as the server
last evaluated it: its indicator, objective and window, the share of good
events, the error budget left over the window, and the burn rate of each
burn tier over its long and short windows. A tier fires (FIRING names its
severity) when both windows burn at least its factor and the long window
holds at least min_events events; LOW marks a tier held back by that
low-traffic guard. The counts are shared by every replica.`,
	example: `stadion slo
stadion slo --json`,
	nargs: noArgs, argsErr: "slo takes no arguments",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			SLOs []ops.SLOStatus `json:"slos"`
		}
		if err := r.Do(ctx, "GET", "/v1/slos", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		return printSLOs(env, out.SLOs)
	},
}

func printSLOs(env Env, slos []ops.SLOStatus) error {
	if len(slos) == 0 {
		fmt.Fprintln(env.Stdout, "no SLOs: declare them under slos: in stadion.yaml (see docs/ops.md)")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLO\tCOMPONENT\tINDICATOR\tOBJECTIVE\tWINDOW\tGOOD\tEVENTS\tBUDGET LEFT\tBURN (long/short ≥ factor)\tFIRING")
	for _, s := range slos {
		good := "-"
		if s.SLI != nil {
			good = fmt.Sprintf("%.3f%%", 100**s.SLI)
		}
		var burns []string
		for _, b := range s.Burns {
			mark := ""
			if b.LowTraffic {
				mark = " LOW"
			}
			burns = append(burns, fmt.Sprintf("%s/%s %.1f/%.1f≥%g%s", b.Long, b.Short, b.LongBurn, b.ShortBurn, b.Factor, mark))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f%%\t%s\t%s\t%.0f\t%.1f%%\t%s\t%s\n", s.Name, s.Component, s.Indicator, 100*s.Objective,
			s.Window, good, s.Events.Total, 100*s.Budget, strings.Join(burns, "  "), orDash(strings.Join(s.Firing, ",")))
	}
	return tw.Flush()
}

var alertsCmd = &command{
	name:  "alerts",
	short: "show firing and recently resolved alerts, located (admin or metrics role)",
	long: `Lists the alerts every replica shares: firing first, then those resolved in
the last day. Each names where to look: its site, component and the check
or SLO that explains it. The same alerts go to the alerts: receivers of
stadion.yaml (signed webhooks in Alertmanager's format) and, when
alerts.topic is set, to that exchange topic.`,
	example: `stadion alerts
stadion alerts --json`,
	nargs: noArgs, argsErr: "alerts takes no arguments",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			Alerts []ops.AlertState `json:"alerts"`
		}
		if err := r.Do(ctx, "GET", "/v1/alerts", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		if len(out.Alerts) == 0 {
			fmt.Fprintln(env.Stdout, "no alerts firing or resolved in the last day")
			return nil
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tSEVERITY\tKIND\tSITE\tCOMPONENT\tCHECK\tSINCE\tSUMMARY")
		for _, a := range out.Alerts {
			since := shortTime(a.StartsAt)
			if a.Status == ops.StatusResolved {
				since += " → " + shortTime(a.EndsAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Status, a.Severity, a.Kind, a.Site, a.Component, a.Check, since, cmdio.Truncate(a.Summary, 120))
		}
		return tw.Flush()
	},
}

var anomaliesCmd = &command{
	name:  "anomalies",
	short: "show the log-template classes of the server's logs and engine advisories (admin)",
	long: `Lists the classes the template miner found in the server's own logs and the
engine's advisories: component, level, template, count (and in the last
minute), first and last seen, and an example with ids, numbers, addresses
and keys masked. Anomalous classes (new at WARN or above, or a rate jump)
come first. The classes are those of every replica sharing the engine,
merged by class (counts added; another replica's as of at most 15 s ago);
PROCS is how many processes reported the class.

With --venue, the classes of that venue's edge, which mines its own logs:
the cloud asks the edge through its link (the edge must be linked). The
cloud's health shows each linked venue's count of anomalous classes as its
"anomalies" check.`,
	example: `stadion anomalies
stadion anomalies --json
stadion anomalies --venue bird-nest`,
	nargs: noArgs, argsErr: "anomalies takes no arguments",
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		venue := fs.String("venue", "", "list the anomaly classes of this venue's edge, asked through its link")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			var out struct {
				Site    string             `json:"site"`
				Classes []ops.AnomalyClass `json:"classes"`
			}
			path := "/v1/anomalies"
			if *venue != "" {
				path = "/v1/venues/" + url.PathEscape(*venue) + "/anomalies"
			}
			if err := r.Do(ctx, "GET", path, "", nil, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\tCOMPONENT\tLEVEL\tCOUNT\tLAST MIN\tPROCS\tFIRST SEEN\tLAST SEEN\tTEMPLATE")
			for _, c := range out.Classes {
				mark := ""
				if c.Anomalous {
					mark = "!"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", mark, c.Component, c.Level, c.Count, c.LastMinute, max(c.Processes, 1),
					shortTime(c.FirstSeen), shortTime(c.LastSeen), cmdio.Truncate(c.Template, 120))
			}
			return tw.Flush()
		}
	},
}
