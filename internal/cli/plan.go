package cli

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var planCmd = &command{
	name:  "plan",
	short: "apply, revert and preview emergency plans (presets of limits in stadion.yaml)",
	long: `A plan is a named set of limits declared under plans: in stadion.yaml.
Applying it puts its limits (named PLAN.LIMIT) in force on every replica;
reverting removes them. Each application is recorded with who and when.
--dry-run prints what would change and, from the last 5 minutes of traffic
on every replica, how many requests each limit would have refused.`,
	example: `stadion plan list
stadion plan show opening-ceremony-storm
stadion plan apply opening-ceremony-storm --dry-run
stadion plan apply opening-ceremony-storm
stadion plan revert opening-ceremony-storm`,
	sub: []*command{planListCmd, planShowCmd, planApplyCmd, planRevertCmd},
}

var planListCmd = &command{
	name:    "list",
	short:   "list the plans and whether they are applied",
	example: `stadion plan list`,
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			Plans []client.PlanRow `json:"plans"`
		}
		if err := r.Do(ctx, "GET", "/v1/plans", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		if len(out.Plans) == 0 {
			fmt.Fprintln(env.Stderr, "no plans: declare them under plans: in stadion.yaml")
			return nil
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PLAN\tSTATE\tLAST CHANGE\tBY\tLIMITS\tDESCRIPTION")
		for _, p := range out.Plans {
			state, at, by := "not applied", "-", "-"
			if p.Last != nil {
				state, at, by = p.Last.Action, shortTime(p.Last.At), p.Last.By
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.Name, state, at, by, len(p.Limits), p.Description)
		}
		return tw.Flush()
	},
}

var planApplyCmd = &command{
	name:  "apply",
	short: "put plan NAME's limits in force everywhere (--dry-run: preview)",
	usage: "NAME",
	example: `stadion plan apply opening-ceremony-storm --dry-run
stadion plan apply opening-ceremony-storm`,
	nargs: 1, argsErr: "plan apply needs exactly one NAME",
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		dry := fs.Bool("dry-run", false, "print what would change and what each limit would have refused, change nothing")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			if *dry {
				return planDryRun(ctx, env, r, args[0], asJSON)
			}
			return planChange(ctx, env, r, args[0], "apply", asJSON)
		}
	},
}

var planRevertCmd = &command{
	name:    "revert",
	short:   "remove plan NAME's limits everywhere",
	usage:   "NAME",
	example: `stadion plan revert opening-ceremony-storm`,
	nargs:   1, argsErr: "plan revert needs exactly one NAME",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		return planChange(ctx, env, r, args[0], "revert", asJSON)
	},
}

func planChange(ctx context.Context, env Env, r *client.Client, name, verb string, asJSON bool) error {
	var ev client.PlanEvent
	if err := r.Do(ctx, "POST", client.PlanPath(name, "/"+verb), "", nil, nil, &ev); err != nil {
		return err
	}
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, ev)
	}
	fmt.Fprintf(env.Stderr, "plan %s %s by %s at %s: %d limits (%s)\n", ev.Plan, ev.Action, ev.By, shortTime(ev.At), len(ev.Limits), strings.Join(ev.Limits, ", "))
	return nil
}

func planDryRun(ctx context.Context, env Env, r *client.Client, name string, asJSON bool) error {
	var d client.PlanDryRun
	if err := r.Do(ctx, "POST", client.PlanPath(name, "/apply?dry_run=true"), "", nil, nil, &d); err != nil {
		return err
	}
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, d)
	}
	fmt.Fprintf(env.Stdout, "plan %s (dry run: nothing changed); traffic of the last %s, %d of %d processes answered, %d requests sampled\n",
		d.Plan, d.Window, d.Answers, d.Peers, d.Sampled)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIMIT\tCHANGE\tACTION\tMATCHED\tWOULD REFUSE")
	for _, c := range d.Changes {
		refuse := fmt.Sprintf("%.0f", c.Estimate.Refused)
		if c.Estimate.Concurrency {
			refuse += " (+ concurrency: not estimated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\n", c.Limit, c.Change, c.Action, c.Estimate.Matched, refuse)
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "(%s)\n", d.Note)
	return nil
}

var planShowCmd = &command{
	name:    "show",
	short:   "show plan NAME's limits and who applied and reverted it when",
	usage:   "NAME",
	example: `stadion plan show opening-ceremony-storm`,
	nargs:   1, argsErr: "plan show needs exactly one NAME",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out client.PlanDetail
		if err := r.Do(ctx, "GET", client.PlanPath(args[0], ""), "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		fmt.Fprintf(env.Stdout, "plan %s: %s\n", out.Name, out.Description)
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LIMIT\tMATCH\tLIMIT\tACTION")
		for _, n := range slices.Sorted(maps.Keys(out.Limits)) {
			l := out.Limits[n]
			fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\n", out.Name, n, client.DescribeMatch(l.Match), client.DescribeAmount(l), orDash(l.Action))
		}
		tw.Flush()
		fmt.Fprintln(env.Stdout, "\nhistory (oldest first):")
		if len(out.History) == 0 {
			fmt.Fprintln(env.Stdout, "  never applied")
		}
		for _, ev := range out.History {
			fmt.Fprintf(env.Stdout, "  %s  %-8s by %s (%d limits)\n", shortTime(ev.At), ev.Action, ev.By, len(ev.Limits))
		}
		return nil
	},
}
