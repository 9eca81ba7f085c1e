package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
)

// Version is set at build time (-ldflags "-X .../cli.Version=v0.1.0").
var Version = "dev"

var versionCmd = &command{
	name:    "version",
	short:   "print the version",
	example: `stadion version`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		return func(ctx context.Context, env Env, args []string) error {
			v := Version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(env.Stdout, "stadion %s\n", v)
			return nil
		}
	},
}
