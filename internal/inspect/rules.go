package inspect

// Rule describes one check: its id (used in findings, suppressions and
// SARIF), category, the most severe level it reports, a title and the fix.
type Rule struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Fix      string   `json:"fix"`
}

// Rules is the catalog, in report order.
var Rules = []Rule{
	{"jvm-invalid-option", CatMemory, Critical, "a JVM memory option the JVM refuses to start with", "Write sizes as the JVM reads them: digits with k, m, g or t (-Xmx1536m, -Xmx2g), percentages as numbers (-XX:MaxRAMPercentage=75.0); one option per argument."},
	{"jvm-heap-over-limit", CatMemory, Critical, "the JVM's maximum heap is at or over the container's memory limit", "Size the heap from the limit: drop -Xmx and set -XX:MaxRAMPercentage=75.0 (or lower the heap / raise the limit so heap plus non-heap fits)."},
	{"jvm-total-over-limit", CatMemory, Warning, "the JVM's heap plus its non-heap estimate exceeds the memory limit", "Leave room for metaspace, code cache, thread stacks and direct memory: lower the heap (-XX:MaxRAMPercentage) or raise the limit; cap what you can (-XX:MaxMetaspaceSize, -XX:MaxDirectMemorySize, -Xss)."},
	{"jvm-no-memory-limit", CatMemory, Warning, "a JVM container without a memory limit", "Set resources.limits.memory; the JVM then sizes its heap from it (25% by default, -XX:MaxRAMPercentage to change)."},
	{"jvm-container-support-off", CatMemory, Critical, "the JVM does not see the container's limit", "Remove -XX:-UseContainerSupport, or move to a JDK that reads cgroups (8u191+, 11+); until then set -Xmx explicitly."},
	{"jvm-cgroup-v1-only", CatMemory, Warning, "the JDK reads the container limit from cgroup v1 only", "Move to a JDK with cgroup v2 support (8u372+, 11.0.16+, 15+), or set the heap explicitly (-Xmx or -XX:MaxRAM)."},
	{"jvm-heap-unknown", CatMemory, Info, "the JVM's heap cannot be computed from the manifests", "Set the heap where it can be read (-XX:MaxRAMPercentage in JAVA_TOOL_OPTIONS), or annotate the workload and check it at run time (java -XshowSettings:vm)."},
	{"jvm-opts-unused", CatMemory, Warning, "JAVA_OPTS-style variable set but the command does not pass it to java", "Pass it on the command line (sh -c 'exec java $JAVA_OPTS ...') or use JAVA_TOOL_OPTIONS, which every JVM reads."},
	{"jvm-heap-fixed", CatMemory, Info, "-Xmx fixes the heap whatever the limit", "Prefer -XX:MaxRAMPercentage so the heap follows the limit when the limit changes."},
	{"jvm-heap-waste", CatMemory, Info, "the JVM uses under half of its memory limit", "Raise -XX:MaxRAMPercentage (75.0 is common) or lower the limit and request."},
	{"jvm-request-below-limit", CatMemory, Warning, "the memory request is below what the JVM will use", "Set requests.memory to the limit for JVMs: the heap grows to its maximum and is rarely returned, so a lower request overcommits the node."},
	{"go-gomemlimit-invalid", CatMemory, Critical, "GOMEMLIMIT is malformed and the Go runtime aborts at start", "Write GOMEMLIMIT in bytes or with B, KiB, MiB, GiB or TiB (e.g. 900MiB); Kubernetes units such as Gi are not accepted."},
	{"go-gomemlimit-over-limit", CatMemory, Critical, "GOMEMLIMIT is at or over the container's memory limit", "Set GOMEMLIMIT to about 90% of the limit (resourceFieldRef limits.memory with a divisor, or a fixed value)."},
	{"go-gogc-off", CatMemory, Critical, "GOGC=off without GOMEMLIMIT: the heap grows without bound", "Set GOMEMLIMIT to about 90% of the limit, or remove GOGC=off."},
	{"go-gomemlimit-missing", CatMemory, Warning, "a Go container with a memory limit and no GOMEMLIMIT", "Set GOMEMLIMIT to about 90% of the memory limit so the GC works harder before the kernel kills the container."},
	{"node-heap-over-limit", CatMemory, Critical, "Node's heap limit is at or over the container's memory limit", "Set --max-old-space-size (MiB) to about 75% of the limit, or --max-old-space-size-percentage=75 on Node 24+."},
	{"node-total-over-limit", CatMemory, Warning, "Node's heap plus its native memory estimate exceeds the memory limit", "Lower --max-old-space-size to leave room for buffers and native memory, or raise the limit."},
	{"node-heap-unset", CatMemory, Warning, "Node's default heap may not follow the container's limit", "Set --max-old-space-size (MiB) in NODE_OPTIONS to about 75% of the limit."},
	{"node-heap-plateau", CatMemory, Info, "Node's default heap stops growing with the limit", "Set --max-old-space-size or --max-old-space-size-percentage to use the memory the limit grants."},
	{"node-heap-unknown", CatMemory, Info, "Node's heap cannot be computed from the manifests", "Set --max-old-space-size in NODE_OPTIONS where it can be read."},
	{"memory-limit-missing", CatMemory, Warning, "no memory limit", "Set resources.limits.memory."},
	{"memory-request-missing", CatMemory, Warning, "no memory request", "Set resources.requests.memory to what the container uses under load."},
	{"cpu-request-missing", CatCPU, Warning, "no CPU request", "Set resources.requests.cpu so the scheduler places the pod and it gets its share under contention."},
	{"probe-readiness-missing", CatProbes, Warning, "no readiness probe", "Add a readinessProbe so traffic reaches only pods that can serve it."},
	{"probe-liveness-missing", CatProbes, Info, "no liveness probe", "Add a livenessProbe that checks only the process itself (not its dependencies)."},
	{"probe-liveness-shares-readiness", CatProbes, Warning, "the liveness probe uses the readiness endpoint", "Give liveness its own endpoint that checks the process only (Spring Boot: /actuator/health/liveness); a dependency outage should make pods unready, not restart them all."},
	{"probe-startup-missing", CatProbes, Info, "a slow-starting runtime with a liveness probe and no startup probe", "Add a startupProbe so a slow start (JIT, cache warm-up) is not killed by the liveness probe."},
	{"replicas-single", CatAvailability, Warning, "a single replica", "Run at least 2 replicas (or an HPA with minReplicas ≥ 2)."},
	{"pdb-missing", CatAvailability, Warning, "a replicated workload without a PodDisruptionBudget", "Add a PodDisruptionBudget (maxUnavailable: 1) selecting the pods."},
	{"pdb-blocks-eviction", CatAvailability, Warning, "the PodDisruptionBudget allows no eviction", "Allow at least one disruption (maxUnavailable ≥ 1, or minAvailable below the replicas) so node drains can proceed."},
	{"hpa-min-below-pdb", CatAvailability, Warning, "the HPA's minimum leaves the PodDisruptionBudget no room", "Raise the HPA's minReplicas above the PDB's minAvailable, or express the PDB as maxUnavailable: 1."},
	{"spread-missing", CatAvailability, Warning, "replicas are not spread across zones", "Add topologySpreadConstraints on topology.kubernetes.io/zone (or pod anti-affinity) so one zone's loss does not take every replica."},
	{"security-privileged", CatSecurity, Critical, "a privileged container", "Remove privileged: true; grant only the capabilities needed."},
	{"security-run-as-root", CatSecurity, Warning, "may run as root", "Set securityContext.runAsNonRoot: true (and a non-zero runAsUser)."},
	{"security-writable-root-fs", CatSecurity, Warning, "a writable root filesystem", "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the process writes."},
	{"security-privilege-escalation", CatSecurity, Warning, "privilege escalation allowed", "Set securityContext.allowPrivilegeEscalation: false."},
	{"image-latest", CatSupplyChain, Warning, "the image has no tag or the latest tag", "Use a versioned tag, pinned by digest."},
	{"image-not-pinned", CatSupplyChain, Warning, "the image is not pinned by digest", "Pin the image by digest (name:tag@sha256:...) so what was reviewed is what runs."},
}

var ruleIndex = func() map[string]int {
	m := map[string]int{}
	for i, r := range Rules {
		m[r.ID] = i
	}
	return m
}()

// RuleByID returns a rule of the catalog.
func RuleByID(id string) (Rule, bool) {
	i, ok := ruleIndex[id]
	if !ok {
		return Rule{}, false
	}
	return Rules[i], true
}
