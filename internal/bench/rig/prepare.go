package rig

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Prepare starts a benchmark run: the returned context ends on SIGINT or
// SIGTERM (call stop when done), and an empty *bin becomes this program,
// the stadion binary to run as the server under test.
func Prepare(ctx context.Context, bin *string) (_ context.Context, stop context.CancelFunc, _ error) {
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, fmt.Errorf("finding the stadion binary (pass --stadion): %w", err)
		}
		*bin = exe
	}
	ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	return ctx, stop, nil
}
