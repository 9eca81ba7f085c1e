//go:build !linux

package capture

import "os/exec"

// ownGroup leaves ffmpeg in stadion's process group off Linux: a timeout
// kills ffmpeg itself.
func ownGroup(cmd *exec.Cmd) {}
