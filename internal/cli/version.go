package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

var versionCmd = &command{
	name:  "version",
	short: "print the version and the commit it was built from",
	long: `Prints the module version and the VCS revision the binary was built
from, as the Go toolchain recorded them: the commit, its time, and
"modified" when the work tree had uncommitted changes. A build from a work
tree has the version "(devel)"; go run and -buildvcs=false record no
revision. stadion --version prints the same.`,
	example: `stadion version
stadion --version
stadion version --json`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, env Env, args []string) error {
			b := cmdio.BuildInfo()
			if *asJSON {
				return cmdio.PrintJSON(env.Stdout, b)
			}
			fmt.Fprintf(env.Stdout, "stadion %s\n", b)
			if b.Go != "" {
				fmt.Fprintf(env.Stdout, "  built with %s\n", b.Go)
			}
			return nil
		}
	},
}
