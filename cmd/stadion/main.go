// Command stadion is the operations backbone for a Games' digital side. All
// of its behaviour lives in internal/cli; main only wires the process to it.
package main

import (
	"context"
	"os"

	"github.com/stadion-dev/stadion/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin,
	}))
}
