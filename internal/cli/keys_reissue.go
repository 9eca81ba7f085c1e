package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var keysReissueCmd = &command{
	name:  "reissue",
	short: "revoke every admin key of a role and make one for each named person",
	long: `Revokes every key of the admin client with --role (but the key you call
with) and creates one per name in --to, labelled with the name. With --out
each key is written to DIR/<name>.key (mode 0600, never overwriting);
without it the keys are printed once, one "name<TAB>key" per line.`,
	example: `stadion keys reissue --role operator --to "Li Wei,Anna K" --out ./keys`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		role := fs.String("role", "", "the role to reissue: viewer, operator or admin (required)")
		to := fs.String("to", "", "comma-separated names of the people who get the new keys (required)")
		out := fs.String("out", "", "directory to write one key file per person into (mode 0600)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 0 || *role == "" || strings.TrimSpace(*to) == "" {
				return usageErr("keys reissue needs --role and --to")
			}
			names := strings.Split(*to, ",")
			if *out != "" {
				if err := client.CheckKeyFiles(*out, names); err != nil {
					return err
				}
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			res, err := r.Reissue(ctx, *role, names)
			if err != nil {
				return err
			}
			if rf.json && *out == "" {
				return cmdio.PrintJSON(env.Stdout, res)
			}
			for _, k := range res.Keys {
				if *out == "" {
					fmt.Fprintf(env.Stdout, "%s\t%s\n", k.Label, k.Key)
					continue
				}
				path := client.KeyFile(*out, k.Label)
				if err := client.WriteKeyFile(path, k.Key); err != nil {
					return fmt.Errorf("key %s of %s was made but not written (%w); revoke it with 'stadion keys revoke admin %s'", k.ID, k.Label, err, k.ID)
				}
				fmt.Fprintf(env.Stderr, "%s: key %s in %s\n", k.Label, k.ID, path)
			}
			fmt.Fprintf(env.Stderr, "revoked %d %s key(s), made %d\n", len(res.Revoked), res.Role, len(res.Keys))
			return nil
		}
	},
}
