package inspect

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNoOtherStadionPackage keeps inspect a capability package: it
// imports no other stadion package (DESIGN.md, "Package plan").
func TestImportsNoOtherStadionPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/stadion-dev/stadion/") {
				t.Errorf("%s imports %s", f, path)
			}
			if strings.HasPrefix(path, "k8s.io/client-go") {
				t.Errorf("%s imports %s: the live path uses plain HTTPS to keep client-go out of the build", f, path)
			}
		}
	}
}
