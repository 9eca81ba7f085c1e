package inspect

import (
	"strings"
	"testing"
)

// inventoryOf reads manifests from a string.
func inventoryOf(t testing.TB, yaml string) *Inventory {
	t.Helper()
	inv := NewInventory()
	if err := inv.Read("test.yaml", strings.NewReader(yaml)); err != nil {
		t.Fatal(err)
	}
	inv.finish()
	return inv
}

// containerOf returns the named container of the only workload.
func containerOf(t testing.TB, yaml, name string) *container {
	t.Helper()
	inv := inventoryOf(t, yaml)
	if len(inv.Workloads) != 1 {
		t.Fatalf("want 1 workload, got %d", len(inv.Workloads))
	}
	for _, ct := range inv.containers(inv.Workloads[0]) {
		if ct.c.Name == name {
			return ct
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// pod builds a Deployment with one container "app" from its YAML body
// (indented for the container's fields) and extra documents.
func pod(container string, extra ...string) string {
	var b strings.Builder
	for _, e := range extra {
		b.WriteString(e + "\n---\n")
	}
	b.WriteString(`apiVersion: apps/v1
kind: Deployment
metadata: {name: svc, namespace: games}
spec:
  replicas: 2
  selector: {matchLabels: {app: svc}}
  template:
    metadata: {labels: {app: svc}}
    spec:
      containers:
      - name: app
`)
	for _, l := range strings.Split(strings.Trim(container, "\n"), "\n") {
		b.WriteString("        " + l + "\n")
	}
	return b.String()
}

func rulesOf(fs []Finding, container string) []string {
	var out []string
	for _, f := range fs {
		if container == "" || f.Container == container {
			out = append(out, f.Rule)
		}
	}
	return out
}
