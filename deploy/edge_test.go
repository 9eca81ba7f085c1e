package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// edgePart is the venues' decoded manifests.
type edgePart struct {
	objs  []object
	pools []*NodePool
	yas   *YurtAppSet
}

func loadEdge(t *testing.T) edgePart {
	t.Helper()
	objs := loadManifests(t, ".")
	e := edgePart{objs: objs, pools: only[*NodePool](objs, "edge/")}
	sets := only[*YurtAppSet](objs, "edge/")
	if len(sets) != 1 || len(e.pools) == 0 {
		t.Fatalf("want NodePools and one YurtAppSet under edge/, have %d and %d", len(e.pools), len(sets))
	}
	e.yas = sets[0]
	return e
}

func TestEveryVenuePoolRunsItsEdge(t *testing.T) {
	e, cloud := loadEdge(t), loadCloud(t)
	var names []string
	for _, np := range e.pools {
		names = append(names, np.Name)
	}
	slices.Sort(names)
	if got := slices.Sorted(slices.Values(e.yas.Spec.Pools)); !slices.Equal(got, names) || e.yas.Spec.NodePoolSelector != nil {
		t.Errorf("YurtAppSet pools %v, want exactly the NodePools %v (listed, not selected)", got, names)
	}
	if venues := slices.Sorted(maps.Keys(cloud.config.Venues)); !slices.Equal(venues, names) {
		t.Errorf("cloud stadion.yaml venues %v, want the NodePools %v", venues, names)
	}
	leafPort := listenPort(t, cloud.inv.flags["leaf"])
	for _, np := range e.pools {
		t.Run(np.Name, func(t *testing.T) {
			if np.Spec.Type != "Edge" || np.Spec.Labels["stadion.dev/venue"] != np.Name {
				t.Errorf("NodePool %s: type %q, labels %v; want Edge with stadion.dev/venue=%s", np.Name, np.Spec.Type, np.Spec.Labels, np.Name)
			}
			checkEdgePool(t, e.objs, e.yas, np.Name, leafPort)
		})
	}
}

func checkEdgePool(t *testing.T, objs []object, yas *YurtAppSet, pool string, leafPort int32) {
	tweaks := 0
	for _, tw := range yas.Spec.WorkloadTweaks {
		if slices.Contains(tw.Pools, pool) {
			tweaks++
		}
	}
	if tweaks != 1 {
		t.Errorf("%d workloadTweaks name pool %s, want 1", tweaks, pool)
	}
	sts, err := renderPool(yas, pool)
	if err != nil {
		t.Fatal(err)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Errorf("replicas %s, want 1: one edge (one JetStream domain) per venue", deref(sts.Spec.Replicas, "%d"))
	}
	if got := sts.Spec.Template.Labels["stadion.dev/venue"]; got != pool {
		t.Errorf("pod label stadion.dev/venue = %q, want %q", got, pool)
	}
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	inv, err := parseInvocation(c)
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, pool, inv, "edge", merge(edgeFlags, map[string]string{"venue": pool}))
	wantEveryInterface(t, pool, inv, "http")
	if cloud := inv.flags["cloud"]; !strings.HasPrefix(cloud, "nats://") || !strings.HasSuffix(cloud, ":"+strconv.Itoa(int(leafPort))) {
		t.Errorf("--cloud %q, want nats://HOST:%d (the cloud's leafnode Service)", cloud, leafPort)
	}
	checkProbes(t, pool, c, listenPort(t, inv.flags["http"]))
	checkHardened(t, pool, pod)
	checkCredentials(t, pool, pod, c, inv.flags["creds"])
	if data, ok := hasMountAt(c, inv.flags["data"]); !ok || data.ReadOnly ||
		!slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(v corev1.PersistentVolumeClaim) bool { return v.Name == data.Name }) {
		t.Errorf("--data must be a writable mount of a volumeClaimTemplate (state survives restarts)")
	}
	checkDialsOut(t, pool, c, inv)
	checkEdgePolicy(t, objs, sts, c, listenPort(t, inv.flags["http"]), leafPort)
}

// checkCredentials wants the --creds file on a read-only mount of the pool's
// own Secret, readable by the owner (and group) only.
func checkCredentials(t *testing.T, pool string, pod corev1.PodSpec, c corev1.Container, file string) {
	t.Helper()
	m, rel, ok := mountFor(c, file)
	v := volumeNamed(pod, m.Name)
	if !ok || v == nil || v.Secret == nil {
		t.Fatalf("--creds %s is not on a Secret volume", file)
	}
	if !m.ReadOnly {
		t.Errorf("credentials mount %s must be readOnly", m.MountPath)
	}
	if want := "stadion-venue-" + pool; v.Secret.SecretName != want {
		t.Errorf("credentials Secret %q, want %q (each venue its own)", v.Secret.SecretName, want)
	}
	okMode := func(m *int32) bool { return m != nil && (*m == 0o400 || *m == 0o440) }
	if !okMode(v.Secret.DefaultMode) {
		t.Errorf("credentials defaultMode %s, want 0400 or 0440", deref(v.Secret.DefaultMode, "%#o"))
	}
	for _, it := range v.Secret.Items {
		if it.Mode != nil && !okMode(it.Mode) {
			t.Errorf("credentials item %s mode %o, want 0400 or 0440", it.Key, *it.Mode)
		}
	}
	if len(v.Secret.Items) > 0 && !slices.ContainsFunc(v.Secret.Items, func(it corev1.KeyToPath) bool { return it.Path == rel }) {
		t.Errorf("credentials Secret items do not provide %s", rel)
	}
}

// deref formats *p, or "unset".
func deref(p *int32, format string) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprintf(format, *p)
}

// checkDialsOut wants an edge that listens for nothing but its HTTP API
// (for the venue's gate devices, on the venue host): no engine, leafnode or
// MQTT listener the cloud could connect to.
func checkDialsOut(t *testing.T, pool string, c corev1.Container, inv invocation) {
	t.Helper()
	for _, f := range []string{"nats", "leaf", "mqtt"} {
		if _, ok := inv.flags[f]; ok {
			t.Errorf("%s: the edge must not listen with --%s", pool, f)
		}
	}
	httpPort := listenPort(t, inv.flags["http"])
	for _, p := range c.Ports {
		if p.ContainerPort != httpPort {
			t.Errorf("%s: port %s (%d) is not the HTTP API port", pool, p.Name, p.ContainerPort)
		}
	}
}

func TestEdgeHasNoInboundExposure(t *testing.T) {
	e := loadEdge(t)
	for _, s := range only[*corev1.Service](e.objs, "edge/") {
		t.Errorf("edge/ has Service %s: edges only dial out, nothing connects to them", s.Name)
	}
	for _, i := range only[*networkingv1.Ingress](e.objs, "edge/") {
		t.Errorf("edge/ has Ingress %s: edges only dial out, nothing connects to them", i.Name)
	}
	for _, tw := range e.yas.Spec.WorkloadTweaks {
		for _, p := range tw.Patches {
			if strings.Contains(p.Path, "/ports") || strings.Contains(p.Path, "hostNetwork") {
				t.Errorf("a tweak patches %s: edges must not open ports per pool", p.Path)
			}
		}
	}
}
