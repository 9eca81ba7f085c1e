package inspect

import (
	"strings"
	"testing"
)

// nodeHeapCases are the Node heap table's cases; FuzzNodeOptions is seeded
// with them.
var nodeHeapCases = []struct {
	name    string
	opts    string
	limit   int64
	version int
	want    int64 // -1 unknown
}{
	// Node 24 defaults, checked against measurements on 24.18.1 (docs/inspect.md).
	{"24 default 512Mi", "", 512 * MiB, 24, 259 * MiB},
	{"24 default 2Gi", "", 2 * GiB, 24, 1120 * MiB},
	{"24 default 4Gi", "", 4 * GiB, 24, 2240 * MiB},
	{"24 default 12Gi plateau", "", 12 * GiB, 24, 2240 * MiB},
	{"24 default 15Gi", "", 15 * GiB, 24, 4288 * MiB},
	{"24 default 16Gi", "", 16 * GiB, 24, 4288 * MiB},
	{"--max-old-space-size", "--max-old-space-size=1536", 2 * GiB, 24, 1536*MiB + 3*48*MiB},
	{"underscore spelling, Node 20 young generation", "--max_old_space_size=1024", 2 * GiB, 20, 1072 * MiB},
	{"Node 20 measured: 256", "--max-old-space-size=256", 2 * GiB, 20, 304 * MiB},
	{"Node 20 measured: 2048", "--max-old-space-size=2048", 4 * GiB, 20, 2096 * MiB},
	{"separate value", "--max-old-space-size 1024", 2 * GiB, 0, 1120 * MiB},
	{"last one wins", "--max-old-space-size=512 --max-old-space-size=1024", 2 * GiB, 22, 1072 * MiB},
	{"percentage beats size", "--max-old-space-size-percentage=50 --max-old-space-size=3000", 2 * GiB, 24, 1120 * MiB},
	{"22 default unknown", "", 2 * GiB, 22, -1},
	{"version unknown", "", 2 * GiB, 0, -1},
	{"no limit", "", 0, 24, -1},
}

func TestNodeHeap(t *testing.T) {
	for _, tt := range nodeHeapCases {
		t.Run(tt.name, func(t *testing.T) {
			h := nodeHeap(parseNodeOptions(splitOptions(tt.opts, "test")), tt.limit, tt.version)
			if tt.want < 0 {
				if h.known || h.why == "" {
					t.Fatalf("heap = %d known %v why %q, want unknown with a reason", h.bytes, h.known, h.why)
				}
				return
			}
			if !h.known || h.bytes != tt.want {
				t.Fatalf("heap = %d (%s), want %d", h.bytes, h.how, tt.want)
			}
		})
	}
}

func TestNodeVersion(t *testing.T) {
	for image, want := range map[string]int{"node:24-alpine": 24, "node:24.18.1": 24, "node:20": 20, "docker.io/library/node:22-slim": 22,
		"registry.access.redhat.com/ubi9/nodejs-20:latest": 20, "node:lts": 0, "node": 0, "cgr.dev/chainguard/node:latest": 0, "my/nodeapp:24": 0} {
		if got := nodeVersion(image); got != want {
			t.Errorf("nodeVersion(%q) = %d, want %d", image, got, want)
		}
	}
}

func TestNodeRules(t *testing.T) {
	tests := []struct {
		name, container string
		want            string // rule expected, "" for no memory finding
	}{
		{"heap over limit", `image: node:24-alpine
env: [{name: NODE_OPTIONS, value: "--max-old-space-size=1024"}]
resources: {limits: {memory: 1Gi}}`, "node-heap-over-limit"},
		{"command line beats NODE_OPTIONS", `image: node:24-alpine
command: [node, --max-old-space-size=512, server.js, --max-old-space-size=4096]
env: [{name: NODE_OPTIONS, value: "--max-old-space-size=1024"}]
resources: {limits: {memory: 1Gi}}`, ""},
		{"heap plus native over limit", `image: node:24-alpine
env: [{name: NODE_OPTIONS, value: "--max-old-space-size=900"}]
resources: {limits: {memory: 1Gi}}`, "node-total-over-limit"},
		{"Node 20 default may follow the host", `image: node:20-alpine
resources: {limits: {memory: 1Gi}}`, "node-heap-unset"},
		{"Node 24 default plateau", `image: node:24
resources: {limits: {memory: 8Gi}}`, "node-heap-plateau"},
		{"Node 24 default fits", `image: node:24
resources: {limits: {memory: 2Gi}}`, ""},
		{"npm start reads NODE_OPTIONS", `image: registry.example.com/web:3
command: [npm, start]
env: [{name: NODE_OPTIONS, value: "--max-old-space-size=2048"}]
resources: {limits: {memory: 2Gi}}`, "node-heap-over-limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Inspect(inventoryOf(t, pod(tt.container)), Options{})
			var mem []string
			for _, f := range rep.Findings {
				if strings.HasPrefix(f.Rule, "node-") {
					mem = append(mem, f.Rule)
				}
			}
			if (tt.want == "" && len(mem) > 0) || (tt.want != "" && (len(mem) != 1 || mem[0] != tt.want)) {
				t.Fatalf("node findings %v, want %q", mem, tt.want)
			}
		})
	}
}

func TestGoRules(t *testing.T) {
	tests := []struct {
		name, container string
		want            string
		sev             Severity
	}{
		{"GOMEMLIMIT over the limit", `image: ghcr.io/stadion-dev/stadion:1
env: [{name: GOMEMLIMIT, value: 2GiB}]
resources: {limits: {memory: 1Gi}}`, "go-gomemlimit-over-limit", Critical},
		{"GOMEMLIMIT equal to the limit via resourceFieldRef", `image: registry.example.com/api:1
env: [{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]
resources: {limits: {memory: 1Gi}}`, "go-gomemlimit-over-limit", Warning},
		{"GOMEMLIMIT 90% via divisor is fine", `image: registry.example.com/api:1
env: [{name: GOMEMLIMIT, value: "900MiB"}]
resources: {limits: {memory: 1Gi}}`, "", Info},
		{"Kubernetes units are malformed for Go", `image: registry.example.com/api:1
env: [{name: GOMEMLIMIT, value: 1Gi}]
resources: {limits: {memory: 2Gi}}`, "go-gomemlimit-invalid", Critical},
		{"GOGC=off without GOMEMLIMIT", `image: registry.example.com/api:1
env: [{name: GOGC, value: "off"}]
resources: {limits: {memory: 1Gi}}`, "go-gogc-off", Critical},
		{"GOGC=off with GOMEMLIMIT is the documented pattern", `image: registry.example.com/api:1
env: [{name: GOGC, value: "off"}, {name: GOMEMLIMIT, value: 900MiB}]
resources: {limits: {memory: 1Gi}}`, "", Info},
		{"Go image with a limit and no GOMEMLIMIT", `image: prom/prometheus:v3.1.0
resources: {limits: {memory: 4Gi}}`, "go-gomemlimit-missing", Warning},
		{"declared by annotation is not needed: unknown image says nothing", `image: registry.example.com/api:1
resources: {limits: {memory: 1Gi}}`, "", Info},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Inspect(inventoryOf(t, pod(tt.container)), Options{})
			var got []Finding
			for _, f := range rep.Findings {
				if strings.HasPrefix(f.Rule, "go-") {
					got = append(got, f)
				}
			}
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("go findings %v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Rule != tt.want || got[0].Severity != tt.sev {
				t.Fatalf("go findings %+v, want one %s %s", got, tt.sev, tt.want)
			}
		})
	}
}

func TestRuntimeAnnotation(t *testing.T) {
	y := strings.Replace(pod(`image: registry.example.com/api:1
resources: {limits: {memory: 1Gi}}`), "metadata: {labels: {app: svc}}", "metadata: {labels: {app: svc}, annotations: {stadion.dev/runtime.app: go}}", 1)
	ct := containerOf(t, y, "app")
	if ct.rt.kind != runtimeGo || !strings.Contains(ct.rt.evidence, "annotation") {
		t.Fatalf("runtime %q (%s), want go from the annotation", ct.rt.kind, ct.rt.evidence)
	}
}
