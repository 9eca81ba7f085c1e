// Package benchtest runs `stadion bench ...` through the real command line
// for the tests of internal/bench/...; it is imported by tests only.
package benchtest

import (
	"bytes"
	"testing"

	"github.com/stadion-dev/stadion/internal/cli"
)

// Run runs the command line with args and returns its standard output; it
// fails the test on a non-zero exit, showing both outputs.
func Run(t *testing.T, args []string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Main(t.Context(), args, cli.Env{Stdout: &out, Stderr: &errOut}); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errOut)
	}
	return out.String()
}
