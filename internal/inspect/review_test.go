package inspect

import (
	"slices"
	"strings"
	"testing"
)

const goodContainer = `image: registry.example.com/api:1.2@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
ports: [{containerPort: 8080}]
resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 256Mi}}
readinessProbe: {httpGet: {path: /ready, port: 8080}}
livenessProbe: {httpGet: {path: /live, port: 8080}}
securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}`

const spread = `      topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: svc}}}]
`

const pdb = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: svc, namespace: games}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: svc}}}`

func withSpread(y string) string {
	return strings.Replace(y, "      containers:\n", spread+"      containers:\n", 1)
}

func TestReviewRules(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // exact rule ids, sorted
	}{
		{"a clean workload", withSpread(pod(goodContainer, pdb)), nil},
		{"no PDB", withSpread(pod(goodContainer)), []string{"pdb-missing"}},
		{"no spread", pod(goodContainer, pdb), []string{"spread-missing"}},
		{"single replica", withSpread(strings.Replace(pod(goodContainer, pdb), "replicas: 2", "replicas: 1", 1)), []string{"replicas-single"}},
		{"PDB minAvailable equal to replicas", withSpread(pod(goodContainer, strings.Replace(pdb, "maxUnavailable: 1", "minAvailable: 2", 1))), []string{"pdb-blocks-eviction"}},
		{"PDB maxUnavailable 0", withSpread(pod(goodContainer, strings.Replace(pdb, "maxUnavailable: 1", "maxUnavailable: 0", 1))), []string{"pdb-blocks-eviction"}},
		{"PDB minAvailable 50% allows one of two", withSpread(pod(goodContainer, strings.Replace(pdb, "maxUnavailable: 1", "minAvailable: 50%", 1))), nil},
		{"HPA min at the PDB's minAvailable", withSpread(pod(goodContainer, strings.Replace(pdb, "maxUnavailable: 1", "minAvailable: 2", 1), `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: svc, namespace: games}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: svc}, minReplicas: 2, maxReplicas: 10}`)), []string{"hpa-min-below-pdb"}},
		{"HPA min 1", withSpread(pod(goodContainer, pdb, `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: svc, namespace: games}
spec: {scaleTargetRef: {kind: Deployment, name: svc}, maxReplicas: 10}`)), []string{"replicas-single"}},
		{"PDB in another namespace does not count", withSpread(pod(goodContainer, strings.Replace(pdb, "namespace: games", "namespace: other", 1))), []string{"pdb-missing"}},
		{"hostname anti-affinity only", pod(goodContainer+"\n", pdb) + `      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: svc}}}
`, []string{"spread-missing"}},
		{"zone anti-affinity", pod(goodContainer+"\n", pdb) + `      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: svc}}}
`, nil},
		{"liveness shares readiness", withSpread(pod(strings.Replace(goodContainer, "path: /live", "path: /ready", 1), pdb)), []string{"probe-liveness-shares-readiness"}},
		{"liveness on Spring's aggregate health", withSpread(pod(strings.Replace(goodContainer, "path: /live", "path: /actuator/health", 1), pdb)), []string{"probe-liveness-shares-readiness"}},
		{"liveness on Spring's liveness group", withSpread(pod(strings.Replace(goodContainer, "path: /live", "path: /actuator/health/liveness", 1), pdb)), nil},
		{"no probes", withSpread(pod(strings.Split(goodContainer, "\nreadinessProbe")[0]+"\nsecurityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}", pdb)), []string{"probe-liveness-missing", "probe-readiness-missing"}},
		{"latest image", withSpread(pod(strings.Replace(goodContainer, "registry.example.com/api:1.2@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945", "registry.example.com/api", 1), pdb)), []string{"image-latest"}},
		{"tag without digest", withSpread(pod(strings.Replace(goodContainer, "@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945", "", 1), pdb)), []string{"image-not-pinned"}},
		{"privileged root", withSpread(pod(strings.Replace(goodContainer, "runAsNonRoot: true,", "privileged: true,", 1), pdb)), []string{"security-privileged", "security-run-as-root"}},
		{"pod-level runAsUser counts", withSpread(strings.Replace(pod(strings.Replace(goodContainer, "runAsNonRoot: true, ", "", 1), pdb), "      containers:\n", "      securityContext: {runAsUser: 10001}\n      containers:\n", 1)), nil},
		{"no resources", withSpread(pod(strings.Replace(goodContainer, "resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 256Mi}}", "", 1), pdb)), []string{"cpu-request-missing", "memory-limit-missing", "memory-request-missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Inspect(inventoryOf(t, tt.yaml), Options{})
			got := rulesOf(rep.Findings, "")
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				for _, f := range rep.Findings {
					t.Log(f.Rule, f.Message)
				}
				t.Fatalf("rules %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSuppression(t *testing.T) {
	base := pod(goodContainer) // pdb-missing and spread-missing
	tests := []struct {
		name   string
		yaml   string
		ignore []string
		want   []string
		supp   int
	}{
		{"nothing suppressed", base, nil, []string{"pdb-missing", "spread-missing"}, 0},
		{"by flag, rule", base, []string{"pdb-missing"}, []string{"spread-missing"}, 1},
		{"by flag, object", base, []string{"Deployment/games/svc"}, nil, 2},
		{"by flag, object and rule", base, []string{"Deployment/games/svc:spread-missing"}, []string{"pdb-missing"}, 1},
		{"by flag, another object", base, []string{"Deployment/games/other"}, []string{"pdb-missing", "spread-missing"}, 0},
		{"by annotation on the object", strings.Replace(base, "metadata: {name: svc, namespace: games}", "metadata: {name: svc, namespace: games, annotations: {stadion.dev/ignore: 'spread-missing, pdb-missing'}}", 1), nil, nil, 2},
		{"by annotation on the template", strings.Replace(base, "metadata: {labels: {app: svc}}", "metadata: {labels: {app: svc}, annotations: {stadion.dev/ignore: '*'}}", 1), nil, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Inspect(inventoryOf(t, tt.yaml), Options{Ignore: tt.ignore})
			got := rulesOf(rep.Findings, "")
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || rep.Suppressed != tt.supp {
				t.Fatalf("rules %v suppressed %d, want %v and %d", got, rep.Suppressed, tt.want, tt.supp)
			}
		})
	}
}

func TestScore(t *testing.T) {
	f := func(cat string, s Severity) Finding { return Finding{Category: cat, Severity: s} }
	tests := []struct {
		name string
		fs   []Finding
		want int
	}{
		{"clean", nil, 100},
		{"one critical", []Finding{f(CatMemory, Critical)}, 80},
		{"warnings and info", []Finding{f(CatCPU, Warning), f(CatProbes, Info)}, 94},
		{"a category is capped at 30", []Finding{f(CatSecurity, Critical), f(CatSecurity, Critical), f(CatSecurity, Warning)}, 70},
		{"never below 0", []Finding{f(CatMemory, Critical), f(CatMemory, Critical), f(CatCPU, Critical), f(CatCPU, Critical), f(CatProbes, Critical), f(CatProbes, Critical), f(CatSecurity, Critical), f(CatSecurity, Critical)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := objectScore(tt.fs); got != tt.want {
				t.Fatalf("objectScore = %d, want %d", got, tt.want)
			}
		})
	}
	objs := []ObjectScore{{Score: 100}, {Score: 90}}
	if got := overallScore(objs, nil); got != 95 {
		t.Errorf("overall = %d, want the mean 95", got)
	}
	if got := overallScore(objs, []Finding{f(CatMemory, Critical)}); got != 69 {
		t.Errorf("overall with a critical = %d, want 69", got)
	}
	for s, g := range map[int]string{100: "A", 90: "A", 89: "B", 80: "B", 79: "C", 70: "C", 69: "D", 60: "D", 59: "F", 0: "F"} {
		if Grade(s) != g {
			t.Errorf("Grade(%d) = %s, want %s", s, Grade(s), g)
		}
	}
	if !GradeAtLeast("A", "C") || !GradeAtLeast("C", "C") || GradeAtLeast("D", "C") || GradeAtLeast("F", "D") {
		t.Error("GradeAtLeast orders grades wrongly")
	}
}
