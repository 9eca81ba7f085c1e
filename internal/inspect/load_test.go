package inspect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadDocumentsAndLists(t *testing.T) {
	in := `# Source: chart/templates/a.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec: {template: {spec: {containers: [{name: c, image: x}]}}}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: StatefulSet
  metadata: {name: b, namespace: games}
  spec: {template: {spec: {containers: [{name: c, image: x}]}}}
- apiVersion: batch/v1
  kind: CronJob
  metadata: {name: c, namespace: games}
  spec: {schedule: "* * * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: x}]}}}}}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: v1
kind: Pod
metadata: {name: a-123, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: a-1, uid: u, controller: true}]}
spec: {containers: [{name: c, image: x}]}
---
{"apiVersion": "apps/v1", "kind": "DaemonSetList", "items": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}]}
`
	inv := inventoryOf(t, in)
	var ids []string
	for _, w := range inv.Workloads {
		ids = append(ids, w.ID()+"@"+w.Source.String())
	}
	want := []string{
		"CronJob/games/c@test.yaml: document 3 item 2",
		"DaemonSet/default/d@test.yaml: document 6 item 1",
		"Deployment/default/a@test.yaml: document 1",
		"StatefulSet/games/b@test.yaml: document 3 item 1",
	}
	if strings.Join(ids, "\n") != strings.Join(want, "\n") {
		t.Fatalf("workloads:\n%s\nwant:\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}
	if inv.Objects != 6 || inv.Other["Service"] != 1 || inv.Other["Pod (owned by a controller)"] != 1 {
		t.Fatalf("objects %d, other %v; want 6, one Service and one owned Pod", inv.Objects, inv.Other)
	}
	if inv.Workloads[2].Source.Line != 2 {
		t.Errorf("Deployment starts on line %d, want 2", inv.Workloads[2].Source.Line)
	}
}

func TestReadErrorsNameTheDocument(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bad YAML", "kind: Deployment\n---\nkind: [\n", "test.yaml: document 2"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "test.yaml: document 1: no kind"},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n", "test.yaml: document 1 (Deployment)"},
		{"not an object", "- a\n- b\n", "test.yaml: document 1: not a Kubernetes object"},
		{"bad item in a List", "kind: List\nitems:\n- kind: Pod\n  spec: {containers: 3}\n", "test.yaml: document 1 item 1 (Pod)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewInventory().Read("test.yaml", strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}\n"
	must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(strings.ReplaceAll(doc, "%s", "a")), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sub", "b.yml"), []byte(strings.ReplaceAll(doc, "%s", "b")), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a manifest"), 0o644))
	inv, err := ReadPaths([]string{dir, "-"}, strings.NewReader(strings.ReplaceAll(doc, "%s", "c")))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Workloads) != 3 {
		t.Fatalf("%d workloads, want 3 (two files and stdin)", len(inv.Workloads))
	}
	if _, err := ReadPaths([]string{filepath.Join(dir, "missing.yaml")}, nil); err == nil {
		t.Fatal("a missing file is not an error")
	}
	empty := t.TempDir()
	if _, err := ReadPaths([]string{empty}, nil); err == nil || !strings.Contains(err.Error(), "no .yaml") {
		t.Fatalf("empty directory: %v", err)
	}
}

// A Helm chart inside a walked directory is skipped and listed (its
// templates are not manifests until rendered); a chart given itself, or a
// directory holding only charts, is refused with the command to render it.
func TestReadPathsSkipsHelmCharts(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}\n"
	chart := filepath.Join(dir, "helm", "games")
	must(t, os.MkdirAll(filepath.Join(chart, "templates"), 0o755))
	must(t, os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte("apiVersion: v2\nname: games\nversion: 0.1.0\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(chart, "values.yaml"), []byte("replicas: 3\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(chart, "templates", "d.yaml"), []byte("kind: Deployment\nspec: {replicas: {{ .Values.replicas }}}\n"), 0o644))
	onlyCharts := filepath.Join(dir, "helm")
	if _, err := ReadPaths([]string{onlyCharts}, nil); err == nil || !strings.Contains(err.Error(), "helm template NAME "+chart) {
		t.Fatalf("a directory of charts only: %v, want the helm template advice", err)
	}
	if _, err := ReadPaths([]string{chart}, nil); err == nil || !strings.Contains(err.Error(), "is a Helm chart") {
		t.Fatalf("a chart given itself: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(doc), 0o644))
	inv, err := ReadPaths([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Workloads) != 1 || len(inv.SkippedCharts) != 1 || inv.SkippedCharts[0] != chart {
		t.Fatalf("%d workloads, skipped %v; want 1 and [%s]", len(inv.Workloads), inv.SkippedCharts, chart)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
