// Package rig is what every family of the benchmark suite shares: the
// command shape `stadion bench` lists, child processes of the server under
// test and their procfs figures, load pacing (closed and open loop),
// latency histograms, target checks, a disk probe, a link that can be cut
// and raw MQTT packets. It is imported by internal/bench/... and the
// command line that lists them (and by tests that need a cuttable link).
package rig

import (
	"context"
	"flag"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

// Command is one `stadion bench` subcommand: internal/cli lists it, parses
// its flags with Flags and runs what Flags returns.
type Command struct {
	Name    string
	Short   string // one line for the command list
	Usage   string // the arguments after the name
	Long    string // more help, optional
	Example string
	// Flags declares the command's flags and returns its run function.
	Flags func(fs *flag.FlagSet) func(ctx context.Context, env cmdio.Env, args []string) error
	// Hidden commands are run by other commands and left out of lists.
	Hidden bool
}
