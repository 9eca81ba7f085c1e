// Package cli is stadion's command line: one file per subcommand, each a
// small command value with its name, help, example and run function. It
// parses flags, calls the server (internal/server), the API client
// (internal/client) or a benchmark (internal/bench/...) and prints; it is
// imported by cmd/stadion (and by the benchmarks' tests, which run it).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// Env is what a command sees of the outside world.
type Env = cmdio.Env

// command is one subcommand.
type command struct {
	name    string
	short   string // one line for the command list
	usage   string // the arguments after the name
	long    string // more help, optional
	example string
	// flags declares the command's flags and returns its run function.
	flags func(fs *flag.FlagSet) func(ctx context.Context, env Env, args []string) error
	// remote, instead of flags, runs a command that only talks to a server:
	// it gets the flags of remoteFlags and the API client they name.
	remote remoteRun
	// remoteWith is remote for a command with flags of its own: it declares
	// them and returns the run function.
	remoteWith func(fs *flag.FlagSet) remoteRun
	// nargs is how many arguments a remote command takes (0: any; noArgs,
	// atMostOne); argsErr says what to give when they do not fit.
	nargs   int
	argsErr string
	// sub are subcommands (keys create, demo feed...); flags is unused then.
	sub []*command
	// hidden commands are run by other commands and left out of lists.
	hidden bool
}

// commands lists every subcommand, in help order.
func commands() []*command {
	return []*command{upCmd, initCmd, edgeCmd, publishCmd, tailCmd, topicsCmd, sinksCmd, captureCmd, keysCmd, freezeCmd, approvalsCmd, auditCmd, limitsCmd, planCmd, liveCmd, ticketsCmd, venueCmd, healthCmd, inspectCmd, sloCmd, alertsCmd, anomaliesCmd, demoCmd, benchCmd, versionCmd}
}

// errUsage marks an error whose message should be followed by the usage.
var errUsage = cmdio.ErrUsage

// exitError carries a specific exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			return Main(ctx, []string{args[1], "--help"}, env)
		}
		printOverview(env.Stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	return run(ctx, commands(), args, env, "stadion")
}

func run(ctx context.Context, cmds []*command, args []string, env Env, prefix string) int {
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(env.Stderr, "%s: unknown command %q\nRun '%s --help' for the list of commands.\n", prefix, args[0], prefix)
		return 2
	}
	c := cmds[i]
	name := prefix + " " + c.name
	if len(c.sub) > 0 {
		if len(args) < 2 || args[1] == "-h" || args[1] == "--help" {
			printGroup(env.Stdout, name, c)
			return boolCode(len(args) < 2)
		}
		return run(ctx, c.sub, args[1:], env, name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.runFunc(fs)
	fs.Usage = func() { printCommand(env.Stdout, name, c, fs) }
	if err := fs.Parse(reorder(fs, args[1:])); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // Parse has printed the usage
		}
		fmt.Fprintf(env.Stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, name)
		return 2
	}
	return report(env, name, runFn(ctx, env, fs.Args()))
}

// The arities of a remote command besides an exact number.
const (
	noArgs    = -1
	atMostOne = -2
)

// remoteRun is the run function of a command that talks to a server.
type remoteRun = func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error

// runFunc declares c's flags and returns its run function.
func (c *command) runFunc(fs *flag.FlagSet) func(context.Context, Env, []string) error {
	run := c.remote
	switch {
	case c.remoteWith != nil:
		run = c.remoteWith(fs)
	case run == nil:
		return c.flags(fs)
	}
	var rf remoteFlags
	rf.register(fs)
	return func(ctx context.Context, env Env, args []string) error {
		if c.nargs > 0 && len(args) != c.nargs || c.nargs == noArgs && len(args) > 0 || c.nargs == atMostOne && len(args) > 1 {
			return usageErr("%s", c.argsErr)
		}
		r, err := rf.remote(env)
		if err != nil {
			return err
		}
		return run(ctx, env, r, rf.json, args)
	}
}

func report(env Env, name string, err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, name)
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	default:
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		return 1
	}
}

func boolCode(fail bool) int {
	if fail {
		return 2
	}
	return 0
}

// reorder moves flags after positional arguments to the front, so that
// "stadion tail results --follow" works like "stadion tail --follow results".
func reorder(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// usageErr returns an error that prints the usage hint.
func usageErr(format string, args ...any) error {
	return cmdio.UsageErr(format, args...)
}
