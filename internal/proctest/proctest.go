// Package proctest helps tests that run the real stadion binary: it builds
// cmd/stadion once per test process. It is imported by tests only.
package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of a stadion binary built from this tree, building
// it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stadion-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "stadion")
		out, err := exec.Command("go", "build", "-o", buildPath, "github.com/stadion-dev/stadion/cmd/stadion").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// NeedTool finds a program the test needs; CI (STADION_CI=1) installs
// every one, elsewhere the test is skipped with what to install.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("STADION_CI") != "" {
		t.Fatalf("%s is missing: .ci/run installs the Debian package %s", name, pkg)
	}
	t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	return ""
}
