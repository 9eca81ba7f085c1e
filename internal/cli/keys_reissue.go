package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
				if err := checkKeyFiles(*out, names); err != nil {
					return err
				}
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]any{"role": *role, "to": names})
			var res struct {
				Role string `json:"role"`
				Keys []struct {
					ID    string `json:"id"`
					Key   string `json:"key"`
					Label string `json:"label"`
				} `json:"keys"`
				Revoked []struct {
					ID    string `json:"id"`
					Label string `json:"label"`
				} `json:"revoked"`
			}
			if err := r.Do(ctx, "POST", "/v1/clients/admin/keys/reissue", "application/json", body, nil, &res); err != nil {
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
				path := keyFile(*out, k.Label)
				if err := writeKeyFile(path, k.Key); err != nil {
					return fmt.Errorf("key %s of %s was made but not written (%w); revoke it with 'stadion keys revoke admin %s'", k.ID, k.Label, err, k.ID)
				}
				fmt.Fprintf(env.Stderr, "%s: key %s in %s\n", k.Label, k.ID, path)
			}
			fmt.Fprintf(env.Stderr, "revoked %d %s key(s), made %d\n", len(res.Revoked), res.Role, len(res.Keys))
			return nil
		}
	},
}

// keyFile is DIR/<name>.key, the name reduced to safe characters.
func keyFile(dir, name string) string {
	slug := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, strings.TrimSpace(name))
	return filepath.Join(dir, slug+".key")
}

// checkKeyFiles refuses before anything is revoked if a key file exists.
func checkKeyFiles(dir string, names []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := os.Stat(keyFile(dir, n)); err == nil {
			return fmt.Errorf("%s exists; move it away first (keys are never overwritten)", keyFile(dir, n))
		}
	}
	return nil
}

func writeKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
