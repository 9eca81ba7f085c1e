package drain

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoghubAccuracy reports the grouping accuracy on a local copy of the
// Loghub 2k samples (STADION_LOGHUB=dir of *_2k.log_structured.csv); it
// skips without one. `stadion bench ops --loghub DIR` prints the same.
func TestLoghubAccuracy(t *testing.T) {
	dir := os.Getenv("STADION_LOGHUB")
	if dir == "" {
		t.Skip("STADION_LOGHUB not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*_2k.log_structured.csv"))
	if len(files) == 0 {
		t.Fatalf("no *_2k.log_structured.csv in %s", dir)
	}
	sum := 0.0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := ReadStructured(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		acc := GroupingAccuracy(lines, Options{})
		sum += acc
		t.Logf("%-40s %.3f", filepath.Base(name), acc)
	}
	t.Logf("mean %.3f over %d datasets", sum/float64(len(files)), len(files))
}
