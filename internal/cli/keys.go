package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var keysCmd = &command{
	name:  "keys",
	short: "create, list, revoke and reissue API keys and admin roles (admin)",
	long: `Keys of the admin client have a role: viewer (reads everything, changes
nothing), operator (the controls of the day: pause sinks, revoke keys, room
states, emergency plans) or admin (everything). The key in admin.key is an
admin. Give each person a key of their own with --label, so that the audit
trail and two-person approvals name them.`,
	example: `stadion keys create odf            # prints only the key
export ODF_KEY=$(stadion keys create odf)
stadion keys create --role operator --label "Li Wei"
stadion keys list odf
stadion keys list admin            # roles and labels of the admin keys
stadion keys revoke odf 3f9c1e2a7b6d4c01
stadion keys reissue --role operator --to "Li Wei,Anna K" --out ./keys`,
	sub: []*command{keysCreateCmd, keysListCmd, keysRevokeCmd, keysReissueCmd},
}

var keysCreateCmd = &command{
	name:  "create",
	short: "create a key for CLIENT and print it (shown once, stored hashed)",
	usage: "[CLIENT]",
	example: `stadion keys create screens
stadion keys create --role viewer --label "Night desk"   # CLIENT is admin`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		role := fs.String("role", "", "role of an admin key: viewer, operator or admin (CLIENT defaults to admin)")
		label := fs.String("label", "", "who holds the key, e.g. \"Li Wei\" (shown in the audit trail)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) == 0 && *role != "" {
				args = []string{"admin"}
			}
			if len(args) != 1 {
				return usageErr("keys create needs exactly one CLIENT (or --role for an admin key)")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			var out struct {
				Key   string `json:"key"`
				ID    string `json:"id"`
				Role  string `json:"role,omitempty"`
				Label string `json:"label,omitempty"`
			}
			var body []byte
			if *role != "" || *label != "" {
				body, _ = json.Marshal(map[string]string{"role": *role, "label": *label})
			}
			if err := r.Do(ctx, "POST", "/v1/clients/"+url.PathEscape(args[0])+"/keys", "application/json", body, nil, &out); err != nil {
				return err
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			fmt.Fprintln(env.Stdout, out.Key)
			return nil
		}
	},
}

var keysListCmd = &command{
	name:    "list",
	short:   "list CLIENT's key ids (never the keys)",
	usage:   "CLIENT",
	example: `stadion keys list odf`,
	nargs:   1, argsErr: "keys list needs exactly one CLIENT",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			Keys []struct {
				ID      string    `json:"id"`
				Client  string    `json:"client"`
				Role    string    `json:"role,omitempty"`
				Label   string    `json:"label,omitempty"`
				Created time.Time `json:"created"`
			} `json:"keys"`
		}
		if err := r.Do(ctx, "GET", "/v1/clients/"+url.PathEscape(args[0])+"/keys", "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCLIENT\tROLE\tLABEL\tCREATED")
		for _, k := range out.Keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Client, orDash(k.Role), orDash(k.Label), shortTime(k.Created))
		}
		return tw.Flush()
	},
}

var keysRevokeCmd = &command{
	name:    "revoke",
	short:   "revoke key ID of CLIENT",
	usage:   "CLIENT ID",
	example: `stadion keys revoke odf 3f9c1e2a7b6d4c01`,
	nargs:   2, argsErr: "keys revoke needs CLIENT and ID",
	remote: func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		path := "/v1/clients/" + url.PathEscape(args[0]) + "/keys/" + url.PathEscape(args[1])
		if err := r.Do(ctx, "DELETE", path, "", nil, nil, nil); err != nil {
			return err
		}
		return printDone(env, asJSON, map[string]any{"client": args[0], "id": args[1], "revoked": true},
			"revoked key %s of %s", args[1], args[0])
	},
}
