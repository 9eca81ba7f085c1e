package rig

import (
	"os/exec"
	"syscall"
)

// DieWithParent has the kernel kill cmd's process if the benchmark dies
// first (a killed test binary must not leave servers behind), and puts it
// in its own process group, so that a terminal's Ctrl-C reaches only the
// benchmark, which then stops the child in order.
func DieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
