package inspect

import "testing"

func BenchmarkInspectCorpus(b *testing.B) {
	for b.Loop() {
		inv, err := ReadPaths([]string{"testdata/corpus"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		Inspect(inv, Options{})
	}
}
