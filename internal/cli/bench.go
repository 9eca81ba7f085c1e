package cli

import (
	benchabuse "github.com/stadion-dev/stadion/internal/bench/abuse"
	benchcapture "github.com/stadion-dev/stadion/internal/bench/capture"
	benchexchange "github.com/stadion-dev/stadion/internal/bench/exchange"
	benchgate "github.com/stadion-dev/stadion/internal/bench/gate"
	benchinspect "github.com/stadion-dev/stadion/internal/bench/inspect"
	benchlimits "github.com/stadion-dev/stadion/internal/bench/limits"
	benchlive "github.com/stadion-dev/stadion/internal/bench/live"
	benchops "github.com/stadion-dev/stadion/internal/bench/ops"
	"github.com/stadion-dev/stadion/internal/bench/rig"
	benchsink "github.com/stadion-dev/stadion/internal/bench/sink"
)

var benchCmd = &command{
	name:  "bench",
	short: "measure stadion against its reference in one run",
	long:  `Each benchmark measures stadion and a reference (the raw engine, a peer broker) in the same run on this machine and prints both figures and their ratio.`,
	example: `stadion bench exchange
stadion bench exchange --publishers 64 --duration 10s --json`,
	sub: benchCommands(benchexchange.Command, benchexchange.ClusterCommand, benchsink.Command, benchlive.Command, benchlive.ClientCommand, benchlive.NATSCommand,
		benchgate.Command, benchcapture.Command, benchabuse.Command, benchinspect.Command, benchops.Command, benchlimits.Command),
}

// benchCommands lists the benchmarks of internal/bench as subcommands.
func benchCommands(cs ...*rig.Command) []*command {
	out := make([]*command, len(cs))
	for i, c := range cs {
		out[i] = &command{name: c.Name, short: c.Short, usage: c.Usage, long: c.Long, example: c.Example, flags: c.Flags, hidden: c.Hidden}
	}
	return out
}
