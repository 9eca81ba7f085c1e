//go:build !unix

package capture

import "os/exec"

// ownGroup kills only ffmpeg itself where process groups do not exist.
func ownGroup(cmd *exec.Cmd) {}
