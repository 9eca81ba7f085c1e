package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchOpsRuns runs a short `stadion bench ops` with a Loghub-shaped
// directory of one small sample and checks what it prints.
func TestBenchOpsRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the log path for a second")
	}
	dir := t.TempDir()
	sample, err := os.ReadFile("../ops/drain/testdata/sample_structured.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Sample_2k.log_structured.csv"), sample, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut}
	args := []string{"bench", "ops", "--duration", "1s", "--slos", "5", "--rate", "500", "--mine-lines", "2000", "--loghub", dir}
	if code := Main(context.Background(), args, env); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"cost of ops", "heap held by ops", "ratio", "Sample", "mean"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
