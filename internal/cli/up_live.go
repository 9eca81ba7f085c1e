package cli

import "context"

// newLive builds the live capability for `stadion up`, or nil when the
// configuration does not use it.
func newLive(ctx context.Context, env serverEnv) (capability, error) {
	return nil, nil
}
