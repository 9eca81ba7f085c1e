package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var freezeCmd = &command{
	name:  "freeze",
	short: "set, list and delete change freezes (two-person approval)",
	long: `While a freeze is on, every change in its scope made with an admin key is
held (answered 202 with a request id) until a second, different person
approves it with 'stadion approvals approve ID'; then the server runs it as
its requester. Emergency plans are applied and reverted without approval,
and recorded. The scope is all, or areas (keys, exchange, sinks, live,
gate, capture, limits, plans, freezes), or venue:NAME. Changing or deleting
freezes, and making admin keys, is held under any freeze.`,
	example: `stadion freeze set opening --start 2026-02-04T19:00:00+08:00 --end 2026-02-04T23:30:00+08:00 --scope all
stadion freeze set ice --end +3h --scope gate,venue:bj-ice --reason "final"
stadion freeze list
stadion freeze delete ice`,
	sub: []*command{freezeSetCmd, freezeListCmd, freezeDeleteCmd},
}

var freezeSetCmd = &command{
	name:  "set",
	short: "create or change freeze NAME",
	usage: "NAME",
	example: `stadion freeze set opening --start 2026-02-04T19:00:00+08:00 --end 2026-02-04T23:30:00+08:00 --scope all
stadion freeze set now --end +2h --scope exchange,sinks`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		start := fs.String("start", "", "when it begins: RFC 3339 time or +DURATION from now (default now)")
		end := fs.String("end", "", "when it ends: RFC 3339 time or +DURATION from now (required)")
		scope := fs.String("scope", "all", "all, or comma-separated areas and venue:NAME")
		reason := fs.String("reason", "", "why, for whoever reads the freeze list")
		holdFor := fs.Duration("hold-for", time.Hour, "how long a held change waits for its approval before it expires (10s to 24h)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 || *end == "" {
				return usageErr("freeze set needs NAME and --end")
			}
			now := time.Now()
			body := map[string]any{"scope": strings.Split(*scope, ","), "reason": *reason, "hold_for": holdFor.String()}
			e, err := client.FreezeTime(*end, now)
			if err != nil {
				return usageErr("--end: %v", err)
			}
			body["end"] = e
			if *start != "" {
				s, err := client.FreezeTime(*start, now)
				if err != nil {
					return usageErr("--start: %v", err)
				}
				body["start"] = s
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			out, err := r.SetFreeze(ctx, args[0], body)
			if err != nil {
				return err
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			fmt.Fprintf(env.Stdout, "freeze %s: %s to %s, scope %s\n", out.Name, shortTime(out.Start), shortTime(out.End), strings.Join(out.Scope, ","))
			return nil
		}
	},
}

var freezeListCmd = &command{
	name:    "list",
	short:   "list the freezes and whether each is on now",
	example: `stadion freeze list`,
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			Freezes []client.Freeze `json:"freezes"`
		}
		if err := r.Do(ctx, "GET", "/v1/freezes", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tON\tSTART\tEND\tSCOPE\tBY\tREASON")
		for _, f := range out.Freezes {
			fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Active, shortTime(f.Start), shortTime(f.End),
				strings.Join(f.Scope, ","), f.By.Name(), orDash(f.Reason))
		}
		return tw.Flush()
	},
}

var freezeDeleteCmd = &command{
	name:    "delete",
	short:   "delete freeze NAME (held for approval while a freeze is on)",
	usage:   "NAME",
	example: `stadion freeze delete opening`,
	nargs:   1, argsErr: "freeze delete needs NAME",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		if err := r.Do(ctx, "DELETE", "/v1/freezes/"+url.PathEscape(args[0]), "", nil, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "deleted freeze %s\n", args[0])
		return nil
	},
}
