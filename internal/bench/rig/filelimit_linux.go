//go:build linux

package rig

import "syscall"

// RaiseFileLimit lifts the soft open-file limit to the hard one: 10,000
// connections need 10,000 descriptors. Child processes inherit it.
func RaiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
