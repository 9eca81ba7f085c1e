package capture

import (
	"os/exec"
	"syscall"
)

// ownGroup runs cmd in a process group of its own, so that a timeout kills
// ffmpeg and anything it started, and kills it when stadion dies (kill -9
// included), so that no capture outlives its worker.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
