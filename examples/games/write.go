package games

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write copies the example (stadion.yaml, schemas/*.json, and the sample
// events as examples/*.json) into dir, the way `stadion init` starts a
// configuration, and returns the paths it wrote. header is put in front of stadion.yaml. Existing files are left
// alone and reported as an error unless force is set; nothing is written
// then.
func Write(dir, header string, force bool) ([]string, error) {
	var names []string
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	// The sample events are examples to publish, not test data, for a user.
	outName := func(n string) string {
		if rest, ok := strings.CutPrefix(n, "testdata/"); ok {
			return "examples/" + rest
		}
		return n
	}
	if err != nil {
		return nil, err
	}
	if !force {
		var exist []string
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, outName(n))); err == nil {
				exist = append(exist, filepath.Join(dir, outName(n)))
			}
		}
		switch len(exist) {
		case 0:
		case 1:
			return nil, fmt.Errorf("%s exists", exist[0])
		default:
			return nil, fmt.Errorf("%s and %d more files exist", exist[0], len(exist)-1)
		}
	}
	var wrote []string
	for _, n := range names {
		data, err := fs.ReadFile(FS, n)
		if err != nil {
			return wrote, err
		}
		if n == "stadion.yaml" {
			data = append([]byte(header), data...)
		}
		out := filepath.Join(dir, filepath.FromSlash(outName(n)))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return wrote, err
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return wrote, err
		}
		wrote = append(wrote, out)
	}
	return wrote, nil
}
