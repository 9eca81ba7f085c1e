package cli

import "context"

// newCapture builds the capture capability for `stadion up`, or nil when the
// configuration does not use it.
func newCapture(ctx context.Context, env serverEnv) (capability, error) {
	return nil, nil
}
