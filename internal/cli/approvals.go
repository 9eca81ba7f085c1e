package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var approvalsCmd = &command{
	name:  "approvals",
	short: "list, approve and reject changes held under a freeze",
	long: `A change held under a freeze runs only when a second person approves it:
another key, another label, a key made before the request, with the role
the change needs (admin for admin changes, operator or admin for operator
ones). The server then runs it as its requester and records one audit entry
naming both. A request expires an hour after it was made.`,
	example: `stadion approvals list
stadion approvals approve 5c0f3a9e2b7d4e11 --token "$(cat anna.key)"
stadion approvals reject 5c0f3a9e2b7d4e11`,
	sub: []*command{approvalsListCmd, approvalsDecideCmd("approve"), approvalsDecideCmd("reject")},
}

var approvalsListCmd = &command{
	name:    "list",
	short:   "list held changes (pending ones; --all for decided ones too)",
	example: `stadion approvals list --all`,
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		all := fs.Bool("all", false, "include approved, applied, rejected and expired requests")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			path := "/v1/approvals?state=pending"
			if *all {
				path = "/v1/approvals"
			}
			var out struct {
				Approvals []client.Approval `json:"approvals"`
			}
			if err := r.Do(ctx, "GET", path, "", nil, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tREQUESTED\tBY\tCHANGE\tFREEZE\tDECIDED BY\tBODY")
			for _, a := range out.Approvals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", a.ID, a.State, shortTime(a.Created), a.By.Name(),
					a.Method, a.Path, a.Freeze, a.DecidedBy.Name(), clipText(string(a.Body), 60))
			}
			return tw.Flush()
		}
	},
}

func approvalsDecideCmd(verb string) *command {
	return &command{
		name:    verb,
		short:   verb + " held change ID (as a different person from its requester)",
		usage:   "ID",
		example: `stadion approvals ` + verb + ` 5c0f3a9e2b7d4e11`,
		nargs:   1, argsErr: "approvals " + verb + " needs ID",
		remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			var out client.Decided
			if err := r.Do(ctx, "POST", "/v1/approvals/"+url.PathEscape(args[0])+"/"+verb, "", nil, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			if verb == "reject" {
				fmt.Fprintf(env.Stderr, "rejected %s\n", args[0])
				return nil
			}
			a := out.Approval
			fmt.Fprintf(env.Stderr, "approved %s: %s %s ran as %s and answered %d\n", a.ID, a.Method, a.Path, a.By.Name(), out.Result.Status)
			if len(out.Result.Body) > 0 {
				fmt.Fprintln(env.Stdout, string(out.Result.Body))
			}
			return nil
		},
	}
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return orDash(s)
	}
	return s[:n] + "…"
}
