//go:build !linux

package rig

// raiseFileLimit is Linux only.
func RaiseFileLimit() {}
