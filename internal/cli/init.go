package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var initCmd = &command{
	name:  "init",
	short: "write a commented starting configuration and its schemas",
	usage: "[DIR]",
	long: `Writes DIR/stadion.yaml (default DIR: the current directory), the bundled
Games example with every section commented, the JSON Schemas it names
(DIR/schemas/*.json) and one valid event per topic (DIR/examples/*.json). stadion up --config DIR/stadion.yaml runs it as is;
edit it from there. Paths in the file (schemas, banned-words files) are
relative to the file's directory, so the directory can be moved or copied
whole. Existing files are never overwritten without --force.`,
	example: `stadion init games && stadion up --config games/stadion.yaml`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		force := fs.Bool("force", false, "overwrite existing files")
		asJSON := fs.Bool("json", false, "print the files written as JSON")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 1 {
				return usageErr("init takes at most one directory, got %d arguments", len(args))
			}
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			cfg := filepath.Join(dir, "stadion.yaml")
			header := fmt.Sprintf("# Written by `stadion init` (stadion %s). Run it with\n#   stadion up --config %s\n#\n", cmdio.BuildInfo().Short(), cfg)
			wrote, err := games.Write(dir, header, *force)
			if err != nil {
				return fmt.Errorf("%w\nChoose an empty directory (stadion init DIR) or pass --force to overwrite", err)
			}
			if *asJSON {
				return cmdio.PrintJSON(env.Stdout, map[string]any{"config": cfg, "files": wrote})
			}
			fmt.Fprintf(env.Stdout, "wrote %s, its schemas (%s) and sample events (%s)\n", cfg,
				filepath.Join(dir, "schemas"), filepath.Join(dir, "examples"))
			fmt.Fprintf(env.Stdout, "Next: stadion up --config %s\n", cfg)
			return nil
		}
	},
}
