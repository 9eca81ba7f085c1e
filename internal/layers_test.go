package internal_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/stadion-dev/stadion/"

// layers is the package plan of docs/ARCHITECTURE.md, top first. A package
// may import only packages of lower layers; packages in one layer never
// import each other (the capabilities, the benchmark families). Every
// package of the module must be placed here, so a new one is placed on
// purpose.
var layers = [][]string{
	{"cmd/stadion", "internal", "internal/bench/benchtest", "internal/proctest", "internal/engine/enginetest", "internal/deadletter/deadlettertest"},
	{"internal/cli"},
	{"internal/server"},
	{"internal/bench/exchange", "internal/bench/sink", "internal/bench/live", "internal/bench/gate", "internal/bench/capture", "internal/bench/abuse", "internal/bench/inspect", "internal/bench/ops", "internal/bench/limits"},
	{"internal/bench/rig"},
	{"internal/demo"},
	{"internal/client"},
	{"internal/delivery", "internal/live", "internal/gate", "internal/capture", "internal/inspect", "internal/console", "internal/limits"},
	{"internal/exchange"},
	{"internal/ops"},
	{"internal/deadletter"},
	{"internal/engine"},
	{"internal/mqtt", "internal/mqtt/interop", "internal/live/wordfilter", "internal/ops/drain"},
	{"internal/api"},
	{"internal/config", "internal/cmdio", "internal/loop", "examples/games", "deploy"},
}

// TestLayers fails when an import points up the package plan or sideways
// within a layer.
func TestLayers(t *testing.T) {
	rank := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			rank[p] = i
		}
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	seen := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(f[0], module)
		r, ok := rank[pkg]
		if !ok {
			t.Errorf("%s is not placed in the package plan (layers in internal/layers_test.go, docs/ARCHITECTURE.md)", pkg)
			continue
		}
		seen++
		for _, imp := range f[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			switch d, ok := rank[dep]; {
			case !ok:
				// reported when the dependency itself is listed
			case d < r:
				t.Errorf("%s imports %s, a higher layer", pkg, dep)
			case d == r:
				t.Errorf("%s imports %s, a package of its own layer", pkg, dep)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list listed %d packages of the plan; is the module where the test runs?", seen)
	}
}
