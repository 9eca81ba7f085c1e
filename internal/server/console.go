package server

import (
	"context"

	"github.com/stadion-dev/stadion/internal/console"
)

// newConsole builds the console: the page at / and the hour of series it
// charts, sampled from this process's metrics. It is always on: the page
// shows nothing without an API key.
func newConsole(ctx context.Context, env serverEnv) (capability, error) {
	return console.New(console.Options{
		Config: env.cfg, Gatherer: env.gather, Reg: env.reg, Streams: env.x.Streams(),
		Logger: env.log.With("service", "console"),
	}), nil
}
