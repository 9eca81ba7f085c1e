package server

import (
	"context"

	"github.com/stadion-dev/stadion/internal/delivery"
)

var _ capability = (*delivery.Service)(nil)

// newDelivery builds the database sinks; with no sinks configured the
// service still serves its (empty) routes, as it always has.
func newDelivery(ctx context.Context, env serverEnv) (capability, error) {
	return delivery.New(env.cfg, env.eng.JS, env.reg, env.log, delivery.Options{DataDir: env.opts.DataDir, Peers: env.peers})
}
