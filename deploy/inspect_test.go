package deploy

import (
	"testing"

	"github.com/stadion-dev/stadion/internal/inspect"
)

// The manifests we ship pass our own pre-event review: no memory finding
// (the Go heap limit against the container's limit) and nothing critical.
func TestOwnManifestsPassInspect(t *testing.T) {
	inv, err := inspect.ReadPaths([]string{"cloud", "edge"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := inspect.Inspect(inv, inspect.Options{})
	if rep.Summary.Workloads == 0 {
		t.Fatal("no workload found in deploy/")
	}
	for _, f := range rep.Findings {
		if f.Category == "memory" || f.Severity == inspect.Critical {
			t.Errorf("%s %s %s/%s: %s", f.Severity, f.Rule, f.Object, f.Container, f.Message)
		}
	}
}
