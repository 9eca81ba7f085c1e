package cli

import "context"

// newGate builds the gate capability for `stadion up`, or nil when the
// configuration does not use it.
func newGate(ctx context.Context, env serverEnv) (capability, error) {
	return nil, nil
}
