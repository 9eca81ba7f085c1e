//go:build unix

package capture

import (
	"os/exec"
	"syscall"
)

// ownGroup runs cmd in a process group of its own, so that a timeout kills
// ffmpeg and anything it started.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
