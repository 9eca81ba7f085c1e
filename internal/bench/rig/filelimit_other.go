//go:build !linux

package rig

// RaiseFileLimit is Linux only.
func RaiseFileLimit() {}
