package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

var versionCmd = &command{
	name:    "version",
	short:   "print the version",
	example: `stadion version`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		return func(ctx context.Context, env Env, args []string) error {
			v := cmdio.Version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(env.Stdout, "stadion %s\n", v)
			return nil
		}
	},
}
