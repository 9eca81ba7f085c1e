package limits_test

import (
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/benchtest"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// TestBenchLimitsRuns runs a short `stadion bench limits` against the real
// binary and checks that every part printed a figure.
func TestBenchLimitsRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers and storms one")
	}
	out := benchtest.Run(t, []string{"bench", "limits", "--stadion", proctest.Binary(t), "--duration", "500ms", "--warmup", "100ms",
		"--rounds", "1", "--limits", "100", "--trials", "3", "--storm", "1s", "--flooders", "2", "--viewer-rate", "10"})
	for _, want := range []string{"limits in force", "throughput lost with 100 limits", "first 429 on another replica", "viewer connects that succeed", "flood connects accepted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
