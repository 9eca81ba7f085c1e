package server

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/console"
)

// newConsole builds the console: the page at / and the hour of series it
// charts, sampled from this process's metrics registry (env.reg, which
// newRegistry makes a *prometheus.Registry, a Gatherer too). It is always
// on: the page shows nothing without an API key.
func newConsole(ctx context.Context, env serverEnv) (capability, error) {
	g, ok := env.reg.(prometheus.Gatherer)
	if !ok {
		return nil, errors.New("console: the metrics registry cannot be read back")
	}
	return console.New(console.Options{
		Config: env.cfg, Gatherer: g, Reg: env.reg, Streams: env.x.Streams(),
		Logger: env.log.With("service", "console"),
	}), nil
}
