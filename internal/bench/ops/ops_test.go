package ops_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/benchtest"
)

// TestBenchOpsRuns runs a short `stadion bench ops` with a Loghub-shaped
// directory of one small sample and checks what it prints.
func TestBenchOpsRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the log path for a second")
	}
	dir := t.TempDir()
	sample, err := os.ReadFile("../../ops/drain/testdata/sample_structured.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Sample_2k.log_structured.csv"), sample, 0o600); err != nil {
		t.Fatal(err)
	}
	out := benchtest.Run(t, []string{"bench", "ops", "--duration", "1s", "--slos", "5", "--rate", "500", "--mine-lines", "2000", "--health-checks", "50", "--health-history", "0", "--loghub", dir})
	for _, want := range []string{"cost of ops", "heap held by ops", "cost of health", "health: 50 checks every 15s", "scored 50", "ratio", "Sample", "mean"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
