package server

import (
	"context"

	"github.com/stadion-dev/stadion/internal/capture"
)

var _ capability = (*capture.Service)(nil)

// newCapture builds the capture capability for `stadion up`, or nil when the
// configuration does not use it (no capture.jobs and capture.enabled off).
func newCapture(ctx context.Context, env serverEnv) (capability, error) {
	if !env.cfg.Capture.Active() {
		return nil, nil
	}
	return capture.New(capture.Options{
		Config: env.cfg, JS: env.eng.JS, Announce: env.x, Registry: env.reg, Logger: env.log,
	})
}
