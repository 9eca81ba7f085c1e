package inspect

import (
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// containerReview runs the CPU, probe, security and image rules.
func (k *check) containerReview(ct *container) {
	c := ct.c
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
			k.add("cpu-request-missing", Warning, ct, "%s has no CPU request: under contention it gets the smallest share.", ct.title())
		}
	}
	if ct.kind == "container" && !k.isBatch() {
		k.probes(ct)
	}
	k.security(ct)
	k.image(ct)
}

func (k *check) isBatch() bool { return k.w.Kind == "Job" || k.w.Kind == "CronJob" }

func (k *check) probes(ct *container) {
	c := ct.c
	if c.ReadinessProbe == nil && len(c.Ports) > 0 && k.w.Kind != "DaemonSet" {
		k.add("probe-readiness-missing", Warning, ct, "Container %s serves ports but has no readiness probe: it gets traffic as soon as it starts, and while it cannot serve.", c.Name)
	}
	if c.LivenessProbe == nil {
		k.add("probe-liveness-missing", Info, ct, "Container %s has no liveness probe: a hung process is never restarted.", c.Name)
		return
	}
	switch ep := httpEndpoint(c.LivenessProbe); {
	case ep != "" && ep == httpEndpoint(c.ReadinessProbe):
		k.add("probe-liveness-shares-readiness", Warning, ct, "Liveness and readiness both call %s: if it checks dependencies (Spring Boot's /actuator/health does by default), one database outage restarts every pod.", ep)
	case ep != "" && strings.TrimSuffix(c.LivenessProbe.HTTPGet.Path, "/") == "/actuator/health":
		k.add("probe-liveness-shares-readiness", Warning, ct, "Liveness calls %s, Spring Boot's aggregate health, which includes its dependency checks (database, brokers): one outage of a dependency restarts every pod.", ep)
	}
	if c.StartupProbe == nil && ct.rt.kind == runtimeJVM && c.LivenessProbe.InitialDelaySeconds < 60 {
		k.add("probe-startup-missing", Info, ct, "JVM container %s has a liveness probe (initial delay %ds) and no startup probe: a slow start under load is killed and restarted.", c.Name, c.LivenessProbe.InitialDelaySeconds)
	}
}

func httpEndpoint(p *corev1.Probe) string {
	if p == nil || p.HTTPGet == nil {
		return ""
	}
	return "GET " + p.HTTPGet.Path + " on port " + p.HTTPGet.Port.String()
}

func (k *check) security(ct *container) {
	c, pod := ct.c, k.w.Template.Spec.SecurityContext
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if sc.Privileged != nil && *sc.Privileged {
		k.add("security-privileged", Critical, ct, "%s is privileged: it has every capability and the host's devices.", ct.title())
	}
	nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsUser != nil && *sc.RunAsUser > 0)
	if sc.RunAsNonRoot == nil && sc.RunAsUser == nil && pod != nil {
		nonRoot = (pod.RunAsNonRoot != nil && *pod.RunAsNonRoot) || (pod.RunAsUser != nil && *pod.RunAsUser > 0)
	}
	if !nonRoot {
		k.add("security-run-as-root", Warning, ct, "%s sets neither runAsNonRoot nor a non-zero runAsUser: it runs as root if the image does.", ct.title())
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		k.add("security-writable-root-fs", Warning, ct, "%s can write its root filesystem.", ct.title())
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		k.add("security-privilege-escalation", Warning, ct, "%s does not set allowPrivilegeEscalation: false.", ct.title())
	}
}

func (k *check) image(ct *container) {
	img := ct.c.Image
	_, digest, pinned := strings.Cut(img, "@")
	_, tag := splitImage(img)
	switch {
	case pinned && strings.HasPrefix(digest, "sha256:"):
	case tag == "" || tag == "latest":
		k.add("image-latest", Warning, ct, "Image %q has no version: what runs changes whenever the tag moves.", img)
	default:
		k.add("image-not-pinned", Warning, ct, "Image %q is not pinned by digest: the tag can be moved after the review.", img)
	}
}

// workloadReview runs the availability rules.
func (k *check) workloadReview(cts []*container) {
	w := k.w
	if w.Replicas == nil {
		return
	}
	hpa := k.hpa()
	minReplicas, how := *w.Replicas, "spec.replicas"
	if hpa != nil {
		minReplicas, how = 1, "HPA "+hpa.Name+" minReplicas"
		if hpa.Spec.MinReplicas != nil {
			minReplicas = *hpa.Spec.MinReplicas
		}
	}
	if minReplicas < 2 {
		k.add("replicas-single", Warning, nil, "%s is %d: one pod's restart or node drain is an outage.", how, minReplicas)
		return
	}
	k.pdb(minReplicas, hpa != nil, how)
	k.spread()
}

func (k *check) hpa() *autoscalingv2.HorizontalPodAutoscaler {
	for _, h := range k.inv.HPAs {
		ref := h.Spec.ScaleTargetRef
		if h.Namespace == k.w.Namespace && ref.Kind == k.w.Kind && ref.Name == k.w.Name {
			return h
		}
	}
	return nil
}

func (k *check) pdb(minReplicas int32, autoscaled bool, how string) {
	set := labels.Set(k.w.Template.Labels)
	found := false
	for _, p := range k.inv.PDBs {
		if p.Namespace != k.w.Namespace || p.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(set) {
			continue
		}
		found = true
		allowed := disruptionsAllowed(p.Spec.MinAvailable, p.Spec.MaxUnavailable, minReplicas)
		switch {
		case allowed > 0:
		case autoscaled:
			k.add("hpa-min-below-pdb", Warning, nil, "PodDisruptionBudget %s allows no eviction at the %s of %d: drains and node upgrades block while the service is at its minimum.", p.Name, how, minReplicas)
		default:
			k.add("pdb-blocks-eviction", Warning, nil, "PodDisruptionBudget %s allows no eviction with %d replicas: drains and node upgrades block.", p.Name, minReplicas)
		}
	}
	if !found {
		k.add("pdb-missing", Warning, nil, "%d replicas and no PodDisruptionBudget selects them: a node drain may evict them all at once.", minReplicas)
	}
}

// disruptionsAllowed is how many pods a PDB lets go at a given replica
// count, as the disruption controller computes it (percentages round up).
func disruptionsAllowed(minAvail, maxUnavail *intstr.IntOrString, replicas int32) int32 {
	n := int(replicas)
	switch {
	case maxUnavail != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(maxUnavail, n, true)
		if err != nil {
			return 0
		}
		return int32(min(v, n))
	case minAvail != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(minAvail, n, true)
		if err != nil {
			return 0
		}
		return int32(max(n-v, 0))
	}
	return 1
}

var zoneKeys = []string{"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"}

func (k *check) spread() {
	spec := &k.w.Template.Spec
	hostOnly := false
	for _, t := range spec.TopologySpreadConstraints {
		if slices.Contains(zoneKeys, t.TopologyKey) {
			return
		}
		hostOnly = true
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		terms := a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		for _, wt := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, wt.PodAffinityTerm)
		}
		for _, t := range terms {
			if slices.Contains(zoneKeys, t.TopologyKey) {
				return
			}
			hostOnly = true
		}
	}
	if hostOnly {
		k.add("spread-missing", Warning, nil, "Replicas are spread across nodes but not zones: one zone's loss can take every replica.")
		return
	}
	k.add("spread-missing", Warning, nil, "No topologySpreadConstraints or pod anti-affinity: the scheduler may put every replica in one zone, or on one node.")
}
