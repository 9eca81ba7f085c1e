package server

import (
	"context"

	"github.com/stadion-dev/stadion/internal/gate"
)

// newGate builds the gate capability for `stadion up`, or nil when the
// configuration does not use it (no venues:).
func newGate(ctx context.Context, env serverEnv) (capability, error) {
	if len(env.cfg.Venues) == 0 {
		return nil, nil
	}
	return gate.NewCloud(env.cfg, env.eng, env.x, env.reg, env.log)
}

// engineDomain is the cloud engine's JetStream domain: venue edges reach
// the cloud's streams through it.
func engineDomain(venues int) string {
	if venues == 0 {
		return ""
	}
	return gate.CloudDomain
}
