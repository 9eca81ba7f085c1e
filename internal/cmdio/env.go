// Package cmdio is what every stadion command shares, whether it is one of
// internal/cli's subcommands or a benchmark of internal/bench: the Env it
// runs in, usage errors, JSON and figures printed for people, a progress
// display and the build's version. It imports nothing of stadion.
package cmdio

import (
	"errors"
	"fmt"
	"io"
)

// Version is set at build time (-ldflags "-X .../cmdio.Version=v0.1.0").
var Version = "dev"

// Env is what a command sees of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	Getenv         func(string) string
}

// ErrUsage marks an error whose message should be followed by the usage.
var ErrUsage = errors.New("usage")

// UsageErr returns an error that prints the usage hint.
func UsageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}
