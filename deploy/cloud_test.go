package deploy

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/stadion-dev/stadion/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

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
	wantEveryInterface(t, "cloud", p.inv, "http", "nats", "leaf", "mqtt")
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
