//go:build !linux

package cli

import "os/exec"

// dieWithParent is Linux only; elsewhere a child outlives a killed
// benchmark.
func dieWithParent(*exec.Cmd) {}
