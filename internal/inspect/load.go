package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Source says where an object was read: a file (or "-" for stdin), the
// document's index in it (1-based), the item's index in a List (0 when it
// is not in one) and the line the document starts on.
type Source struct {
	File string `json:"file"`
	Doc  int    `json:"document"`
	Item int    `json:"item,omitempty"`
	Line int    `json:"line,omitempty"`
}

func (s Source) String() string {
	out := fmt.Sprintf("%s: document %d", s.File, s.Doc)
	if s.Item > 0 {
		out += fmt.Sprintf(" item %d", s.Item)
	}
	return out
}

// ReadPaths reads manifests from files and directories ("-" is stdin)
// into a new inventory.
func ReadPaths(paths []string, stdin io.Reader) (*Inventory, error) {
	inv := newInventory()
	if err := inv.ReadPaths(paths, stdin); err != nil {
		return nil, err
	}
	return inv, nil
}

// ReadPaths reads manifests from files and directories ("-" is stdin).
// Directories are walked for .yaml, .yml and .json files in name order.
func (inv *Inventory) ReadPaths(paths []string, stdin io.Reader) error {
	for _, p := range paths {
		if p == "-" {
			if err := inv.Read("-", stdin); err != nil {
				return err
			}
			continue
		}
		files, err := manifestFiles(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := inv.Read(f, bytes.NewReader(data)); err != nil {
				return err
			}
		}
	}
	return nil
}

func manifestFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: no .yaml, .yml or .json files", p)
	}
	sort.Strings(files)
	return files, err
}

// Read decodes every document of one input (multi-document YAML or JSON,
// List objects expanded) into the inventory. An error names the file and
// the document.
func (inv *Inventory) Read(name string, r io.Reader) error {
	dec := yaml.NewDecoder(r)
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		src := Source{File: name, Doc: doc, Line: n.Line}
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if v == nil {
			continue
		}
		if len(n.Content) > 0 {
			src.Line = n.Content[0].Line
		}
		if err := inv.addValue(src, v); err != nil {
			return err
		}
	}
}

func (inv *Inventory) addValue(src Source, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: not a Kubernetes object (a %T)", src, v)
	}
	kind, _ := m["kind"].(string)
	if kind == "" {
		return fmt.Errorf("%s: no kind", src)
	}
	if items, ok := m["items"].([]any); ok && (kind == "List" || strings.HasSuffix(kind, "List")) {
		for i, it := range items {
			s := src
			s.Item = i + 1
			if err := inv.addValue(s, it); err != nil {
				return err
			}
		}
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s (%s): %w", src, kind, err)
	}
	return inv.Add(src, kind, data)
}
