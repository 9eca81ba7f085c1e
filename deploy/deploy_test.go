package deploy

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stadion-dev/stadion/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The namespaces of the two parts, and the command lines they must run.
const (
	cloudNS = "stadion"
	edgeNS  = "stadion-venues"
)

var (
	cloudFlags = map[string]string{
		"data": "/data", "config": "/etc/stadion/stadion.yaml",
		"http": ":8080", "nats": ":4222", "leaf": ":7422", "mqtt": ":1883",
	}
	edgeFlags = map[string]string{
		"creds": "/etc/stadion/venue.creds", "data": "/data", "http": ":8080",
	}
)

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := loadManifests(t, ".")
	namespaces := map[string]bool{}
	for _, ns := range only[*corev1.Namespace](objs, "") {
		namespaces[ns.Name] = true
	}
	for _, o := range objs {
		meta := metaOf(o.obj)
		if meta.Name == "" {
			t.Errorf("%s: no metadata.name", o)
		}
		want := map[string]string{"cloud/": cloudNS, "edge/": edgeNS}[o.file[:strings.Index(o.file, "/")+1]]
		switch o.obj.(type) {
		case *corev1.Namespace, *NodePool: // cluster-scoped
		default:
			if meta.Namespace != want || !namespaces[meta.Namespace] {
				t.Errorf("%s: namespace %q, want %q (declared in the same directory)", o, meta.Namespace, want)
			}
		}
	}
}

// metaOf returns the ObjectMeta of any decoded object.
func metaOf(obj any) metav1.ObjectMeta {
	return *obj.(interface{ GetObjectMeta() metav1.Object }).GetObjectMeta().(*metav1.ObjectMeta)
}

func TestDecoderRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "unknown kind v1/Pod"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "apiVersion and kind are required"},
		{"unknown field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {}\n", `unknown field "datta"`},
		{"wrong case", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nData: {}\n", `unknown field "Data"`},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {}\n", "already set"},
		{"nested unknown field", "apiVersion: apps.openyurt.io/v1beta1\nkind: YurtAppSet\nmetadata: {name: x}\nspec: {workload: {workloadTemplate: {}, tweaks: []}}\n", `unknown field "spec.workload.tweaks"`},
		{"status in a manifest", "apiVersion: apps.openyurt.io/v1beta2\nkind: NodePool\nmetadata: {name: x}\nstatus: {}\n", `unknown field "status"`},
		{"wrong type", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replicas: one}\n", "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeStream(tc.name, strings.NewReader(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// cloudPart is the cloud's decoded manifests.
type cloudPart struct {
	sts      *appsv1.StatefulSet
	c        corev1.Container
	inv      invocation
	services []*corev1.Service
	config   *config.Config
}

func loadCloud(t *testing.T) cloudPart {
	t.Helper()
	objs := loadManifests(t, ".")
	sets := only[*appsv1.StatefulSet](objs, "cloud/")
	if len(sets) != 1 || len(sets[0].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one cloud StatefulSet with one container, have %d", len(sets))
	}
	p := cloudPart{sts: sets[0], c: sets[0].Spec.Template.Spec.Containers[0], services: only[*corev1.Service](objs, "cloud/")}
	var err error
	if p.inv, err = parseInvocation(p.c); err != nil {
		t.Fatal(err)
	}
	p.config = loadCloudConfig(t, p, only[*corev1.ConfigMap](objs, "cloud/"))
	return p
}

func TestCloudRunsUp(t *testing.T) {
	p := loadCloud(t)
	wantFlags(t, "cloud", p.inv, "up", cloudFlags)
	checkProbes(t, "cloud", p.c, listenPort(t, p.inv.flags["http"]))
	checkHardened(t, "cloud", p.sts.Spec.Template.Spec)
	for _, f := range []string{"http", "nats", "leaf", "mqtt"} {
		if portNamed(p.c, listenPort(t, p.inv.flags[f])) == "" {
			t.Errorf("cloud: --%s port is not a containerPort", f)
		}
	}
	data, ok := hasMountAt(p.c, p.inv.flags["data"])
	if !ok || data.ReadOnly || !slices.ContainsFunc(p.sts.Spec.VolumeClaimTemplates, func(c corev1.PersistentVolumeClaim) bool { return c.Name == data.Name }) {
		t.Errorf("cloud: --data %s must be a writable mount of a volumeClaimTemplate", p.inv.flags["data"])
	}
}

func portNamed(c corev1.Container, port int32) string {
	for _, cp := range c.Ports {
		if cp.ContainerPort == port {
			return cp.Name
		}
	}
	return ""
}

// loadCloudConfig rebuilds /etc/stadion from the ConfigMap volume's items
// and loads stadion.yaml from it with stadion's own (strict) config loader.
func loadCloudConfig(t *testing.T, p cloudPart, cms []*corev1.ConfigMap) *config.Config {
	t.Helper()
	file := p.inv.flags["config"]
	m, rel, ok := mountFor(p.c, file)
	v := volumeNamed(p.sts.Spec.Template.Spec, m.Name)
	if !ok || !m.ReadOnly || v == nil || v.ConfigMap == nil {
		t.Fatalf("cloud: --config %s must be on a read-only ConfigMap mount", file)
	}
	i := slices.IndexFunc(cms, func(cm *corev1.ConfigMap) bool { return cm.Name == v.ConfigMap.Name })
	if i < 0 {
		t.Fatalf("cloud: ConfigMap %s is not in deploy/cloud", v.ConfigMap.Name)
	}
	fsys := fstest.MapFS{}
	for _, it := range v.ConfigMap.Items {
		data, ok := cms[i].Data[it.Key]
		if !ok {
			t.Fatalf("cloud: ConfigMap %s has no key %s", cms[i].Name, it.Key)
		}
		fsys[it.Path] = &fstest.MapFile{Data: []byte(data)}
	}
	if len(v.ConfigMap.Items) == 0 {
		for k, data := range cms[i].Data {
			fsys[k] = &fstest.MapFile{Data: []byte(data)}
		}
	}
	cfg, err := config.Load(fsys, rel)
	if err != nil {
		t.Fatalf("cloud: %s does not load: %v", file, err)
	}
	return cfg
}

func TestCloudServices(t *testing.T) {
	p := loadCloud(t)
	podLabels := labels.Set(p.sts.Spec.Template.Labels)
	api := map[string]int32{}
	var leaf []*corev1.Service
	for _, s := range p.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
			t.Errorf("service %s does not select the stadion pod", s.Name)
		}
		for _, port := range s.Spec.Ports {
			target := containerPort(p.c, port.TargetPort)
			if target != port.Port {
				t.Errorf("service %s port %s: %d -> %d, want the same port", s.Name, port.Name, port.Port, target)
			}
			if target == listenPort(t, p.inv.flags["leaf"]) {
				leaf = append(leaf, s)
			} else {
				api[port.Name] = target
			}
		}
	}
	for _, f := range []string{"http", "nats", "mqtt"} {
		if api[f] != listenPort(t, p.inv.flags[f]) {
			t.Errorf("no service port %s for --%s %s", f, f, p.inv.flags[f])
		}
	}
	if len(leaf) != 1 || len(leaf[0].Spec.Ports) != 1 || leaf[0].Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("the leafnode port needs its own LoadBalancer Service with only that port (edges dial it from the venues)")
	}
}

func TestCloudDisruptionBudget(t *testing.T) {
	p := loadCloud(t)
	pdbs := only[*policyv1.PodDisruptionBudget](loadManifests(t, "."), "cloud/")
	if len(pdbs) != 1 {
		t.Fatalf("want one PodDisruptionBudget for the cloud, have %d", len(pdbs))
	}
	sel, err := metav1.LabelSelectorAsSelector(pdbs[0].Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(p.sts.Spec.Template.Labels)) {
		t.Errorf("PodDisruptionBudget %s does not select the stadion pod (%v)", pdbs[0].Name, err)
	}
}

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
			checkEdgePool(t, e.yas, np.Name, leafPort)
		})
	}
}

func checkEdgePool(t *testing.T, yas *YurtAppSet, pool string, leafPort int32) {
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
		t.Errorf("replicas %v, want 1: one edge (one JetStream domain) per venue", sts.Spec.Replicas)
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
		t.Errorf("credentials defaultMode %v, want 0400 or 0440", v.Secret.DefaultMode)
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

func TestPinned(t *testing.T) {
	for image, want := range map[string]bool{
		"ghcr.io/stadion-dev/stadion:v0.1.0":        true,
		"localhost:5000/stadion:v1":                 true,
		"stadion@sha256:" + strings.Repeat("a", 64): true,
		"ghcr.io/stadion-dev/stadion":               false,
		"ghcr.io/stadion-dev/stadion:latest":        false,
		"localhost:5000/stadion":                    false,
		"stadion@sha256:abc":                        false,
	} {
		if got := pinned(image); got != want {
			t.Errorf("pinned(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestApplyPatch(t *testing.T) {
	doc := func() any {
		return map[string]any{"spec": map[string]any{"args": []any{"edge", "--venue", "x"}, "labels": map[string]any{}}}
	}
	for _, tc := range []struct {
		name, op, path, value, want string
	}{
		{"replace array item", "replace", "/spec/args/2", `"bird-nest"`, `{"spec":{"args":["edge","--venue","bird-nest"],"labels":{}}}`},
		{"add with escaped key", "add", "/spec/labels/stadion.dev~1venue", `"ice-cube"`, `{"spec":{"args":["edge","--venue","x"],"labels":{"stadion.dev/venue":"ice-cube"}}}`},
		{"append", "add", "/spec/args/-", `"--v"`, `{"spec":{"args":["edge","--venue","x","--v"],"labels":{}}}`},
		{"remove", "remove", "/spec/args/0", ``, `{"spec":{"args":["--venue","x"],"labels":{}}}`},
		{"replace missing member", "replace", "/spec/nope", `1`, `error`},
		{"index out of range", "replace", "/spec/args/3", `"y"`, `error`},
		{"missing parent", "add", "/spec/nope/x", `1`, `error`},
		{"bad operation", "move", "/spec/args/0", `1`, `error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyPatch(doc(), tc.op, tc.path, []byte(tc.value))
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("applied, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(got)
			if err != nil || string(js) != tc.want {
				t.Errorf("got %s (%v), want %s", js, err, tc.want)
			}
		})
	}
}
