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
// A Helm chart met in the walk (a directory with Chart.yaml) is skipped
// and listed in SkippedCharts: its templates are manifests only once
// rendered. A chart given itself is refused with the command to render it.
func (inv *Inventory) ReadPaths(paths []string, stdin io.Reader) error {
	for _, p := range paths {
		if p == "-" {
			if err := inv.Read("-", stdin); err != nil {
				return err
			}
			continue
		}
		files, charts, err := manifestFiles(p)
		inv.SkippedCharts = append(inv.SkippedCharts, charts...)
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

// HelmRender is the advice for a Helm chart given where manifests are
// expected.
const HelmRender = "render it first: helm template NAME %s | stadion inspect k8s -"

func isChart(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

func manifestFiles(p string) (files, charts []string, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil, nil
	}
	if isChart(p) {
		return nil, nil, fmt.Errorf("%s is a Helm chart, not manifests: "+HelmRender, p, p)
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && isChart(path) {
			charts = append(charts, path)
			return fs.SkipDir
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
		if len(charts) > 0 {
			err = fmt.Errorf("%s: no .yaml, .yml or .json files outside Helm charts (%s): "+HelmRender, p, strings.Join(charts, ", "), charts[0])
		}
	}
	sort.Strings(files)
	return files, charts, err
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
