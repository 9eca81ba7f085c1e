package inspect

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// ExpectedMemory reads the hand-checked memory findings of the corpus.
func ExpectedMemory(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// TestCorpusMemory checks every memory finding on the corpus against the
// hand-checked list: nothing missing, nothing extra.
func TestCorpusMemory(t *testing.T) {
	inv, err := ReadPaths([]string{"testdata/corpus"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Workloads) < 40 {
		t.Fatalf("corpus has %d workloads, want at least 40", len(inv.Workloads))
	}
	rep := Inspect(inv, Options{})
	var got []string
	for _, f := range rep.Findings {
		if f.Category == CatMemory {
			got = append(got, f.Object+" "+f.Container+" "+f.Rule)
		}
	}
	want, err := ExpectedMemory("testdata/corpus/memory-expected.txt")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing: %s", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("unexpected: %s", g)
		}
	}
}
