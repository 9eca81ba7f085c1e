package cli

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd's process if the benchmark dies
// first (a killed test binary must not leave servers behind).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
