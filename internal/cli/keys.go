package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

var keysCmd = &command{
	name:  "keys",
	short: "create, list and revoke client API keys (admin)",
	example: `stadion keys create odf            # prints only the key
export ODF_KEY=$(stadion keys create odf)
stadion keys list odf
stadion keys revoke odf 3f9c1e2a7b6d4c01`,
	sub: []*command{keysCreateCmd, keysListCmd, keysRevokeCmd},
}

var keysCreateCmd = &command{
	name:    "create",
	short:   "create a key for CLIENT and print it (shown once, stored hashed)",
	usage:   "CLIENT",
	example: `stadion keys create screens`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 {
				return usageErr("keys create needs exactly one CLIENT")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			var out struct {
				Key string `json:"key"`
				ID  string `json:"id"`
			}
			if err := r.Do(ctx, "POST", "/v1/clients/"+url.PathEscape(args[0])+"/keys", "", nil, nil, &out); err != nil {
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
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 {
				return usageErr("keys list needs exactly one CLIENT")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			var out struct {
				Keys []struct {
					ID      string    `json:"id"`
					Client  string    `json:"client"`
					Created time.Time `json:"created"`
				} `json:"keys"`
			}
			if err := r.Do(ctx, "GET", "/v1/clients/"+url.PathEscape(args[0])+"/keys", "", nil, nil, &out); err != nil {
				return err
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCLIENT\tCREATED")
			for _, k := range out.Keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Client, shortTime(k.Created))
			}
			return tw.Flush()
		}
	},
}

var keysRevokeCmd = &command{
	name:    "revoke",
	short:   "revoke key ID of CLIENT",
	usage:   "CLIENT ID",
	example: `stadion keys revoke odf 3f9c1e2a7b6d4c01`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 2 {
				return usageErr("keys revoke needs CLIENT and ID")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			path := "/v1/clients/" + url.PathEscape(args[0]) + "/keys/" + url.PathEscape(args[1])
			if err := r.Do(ctx, "DELETE", path, "", nil, nil, nil); err != nil {
				return err
			}
			return printDone(env, rf.json, map[string]any{"client": args[0], "id": args[1], "revoked": true},
				"revoked key %s of %s", args[1], args[0])
		}
	},
}
