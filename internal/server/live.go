package server

import (
	"context"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/live"
)

// newLive builds live comments for `stadion up` when the configuration
// opens rooms. The configuration file is re-read while running for
// moderation changes (banned words, limits).
func newLive(ctx context.Context, env serverEnv) (capability, error) {
	if !env.cfg.Live.Enabled() {
		return nil, nil
	}
	reload := func() (*config.Config, error) { return LoadConfig(env.opts.ConfigPath) }
	return live.New(env.cfg, env.eng.Conn, env.eng.JS, env.keys, env.reg, live.Options{
		MQTTAddr: env.opts.MQTTAddr, ReloadConfig: reload, Logger: env.log,
		Limits: mqttLimits{env.lim.Limiter()},
	})
}
