package inspect

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestGolden(t *testing.T) {
	inv, err := ReadPaths([]string{"testdata/golden/input.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := Inspect(inv, Options{})
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := rep.Write(&buf, format); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", "report."+format)
			if *update {
				must(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("%s differs from %s (go test -run TestGolden -update rewrites it):\n%s", format, path, buf.String())
			}
		})
	}
	if err := rep.Write(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("an unknown format is not an error")
	}
}
