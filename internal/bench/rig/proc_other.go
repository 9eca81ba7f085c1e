//go:build !linux

package rig

import "os/exec"

// DieWithParent is Linux only; elsewhere a child outlives a killed
// benchmark.
func DieWithParent(*exec.Cmd) {}
