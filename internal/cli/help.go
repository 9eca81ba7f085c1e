package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

func printOverview(w io.Writer) {
	fmt.Fprint(w, `stadion — the operations backbone for a Games' digital side, in one binary.

Usage: stadion <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
Start here:
  stadion up                      # run everything with the bundled Games example
  stadion init games              # or write it out to edit: games/stadion.yaml, schemas, sample events
  stadion demo feed               # publish a plausible competition day
  stadion tail results --since 1h --follow

Commands that talk to a server find it through --server, $STADION_SERVER or
<data>/endpoints.json, and authenticate with --token, $STADION_TOKEN or
<data>/admin.key (data: --data, default ./stadion-data).
Run 'stadion <command> --help' for a command's flags and an example;
'stadion --version' prints the build.
`)
}

func printGroup(w io.Writer, name string, c *command) {
	fmt.Fprintf(w, "%s — %s\n\nUsage: %s <subcommand> ...\n\nSubcommands:\n", name, c.short, name)
	for _, s := range c.sub {
		if s.hidden {
			continue
		}
		fmt.Fprintf(w, "  %-8s %s\n", s.name, s.short)
	}
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", indent(c.example))
	}
}

func printCommand(w io.Writer, name string, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s — %s\n\nUsage: %s [flags] %s\n", name, c.short, name, c.usage)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(w, "  %s%-*s %s%s\n", dash, 18-len(dash), f.Name, f.Usage, def)
	})
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", indent(c.example))
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}
