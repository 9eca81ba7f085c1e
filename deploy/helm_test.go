package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/stadion-dev/stadion/internal/inspect"
)

const chartDir = "helm/stadion"

// helmBinary is helm pinned in go.mod as a tool (go tool helm), or
// $STADION_HELM. The first build of it takes minutes; .ci/run builds it
// before the tests.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("STADION_HELM"); h != "" {
		return h
	}
	cmd := exec.Command("go", "tool", "-n", "helm")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool -n helm: %v (helm is pinned in go.mod: go get -tool helm.sh/helm/v4/cmd/helm)", err)
	}
	return strings.TrimSpace(string(out))
}

// helm runs the pinned helm with args and returns its output.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// renderChart renders the chart as release "games" in namespace "stadion"
// with these --set values and decodes every object strictly.
func renderChart(t *testing.T, sets ...string) ([]object, string) {
	t.Helper()
	args := []string{"template", "games", chartDir, "--namespace", cloudNS}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeStream("helm", strings.NewReader(out))
	if err != nil {
		t.Fatalf("rendered chart: %v", err)
	}
	for _, o := range objs {
		if ns := metaOf(o.obj).Namespace; ns != cloudNS {
			t.Errorf("%s %s: namespace %q, want the release's %q", o.kind, metaOf(o.obj).Name, ns, cloudNS)
		}
	}
	return objs, out
}

func TestChartLints(t *testing.T) {
	if out, err := helm(t, "lint", "--strict", chartDir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// chartPod is the chart's StatefulSet, its container and command line.
func chartPod(t *testing.T, objs []object) cloudPart {
	t.Helper()
	sets := only[*appsv1.StatefulSet](objs, "")
	if len(sets) != 1 || len(sets[0].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one StatefulSet with one container, have %d", len(sets))
	}
	p := cloudPart{sts: sets[0], c: sets[0].Spec.Template.Spec.Containers[0], services: only[*corev1.Service](objs, "")}
	var err error
	if p.inv, err = parseInvocation(p.c); err != nil {
		t.Fatal(err)
	}
	return p
}

// The default: three pods, each a member of one embedded JetStream
// cluster, streams with three replicas, spread over zones.
func TestChartRunsAThreeNodeCluster(t *testing.T) {
	objs, _ := renderChart(t)
	p := chartPod(t, objs)
	podLabels := labels.Set(p.sts.Spec.Template.Labels)
	if r := p.sts.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("replicas %v, want 3", r)
	}
	if p.sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: members must start together (a member is ready only with its quorum)", p.sts.Spec.PodManagementPolicy)
	}
	wantFlags(t, "chart", p.inv, "up", map[string]string{"data": "/data", "replicas": "3", "cluster-name": "stadion", "node": "$(POD_NAME)"})
	wantEveryInterface(t, "chart", p.inv, "http", "nats", "leaf", "mqtt")
	checkProbes(t, "chart", p.c, listenPort(t, p.inv.flags["http"]))
	if p.c.StartupProbe == nil || p.c.StartupProbe.HTTPGet == nil || p.c.StartupProbe.HTTPGet.Path != "/healthz" {
		t.Error("chart: startupProbe must be GET /healthz (a store's recovery may take minutes)")
	}
	checkHardened(t, "chart", p.sts.Spec.Template.Spec)
	checkPinned(t, "chart", p.c.Image)
	if e := envNamed(p.c, "POD_NAME"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Error("chart: --node $(POD_NAME) needs POD_NAME from metadata.name")
	}
	if e := envNamed(p.c, "GOMEMLIMIT"); e == nil || e.Value != "1802MiB" {
		t.Errorf("chart: GOMEMLIMIT %v, want 1802MiB (88%% of the 2Gi limit)", e)
	}
	clusterPort := checkRoutes(t, p)
	checkRouteSecret(t, objs, p)
	p.config = loadCloudConfig(t, p, only[*corev1.ConfigMap](objs, ""))

	spread := p.sts.Spec.Template.Spec.TopologySpreadConstraints
	if !slices.ContainsFunc(spread, func(c corev1.TopologySpreadConstraint) bool {
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		return c.TopologyKey == "topology.kubernetes.io/zone" && c.MaxSkew == 1 && err == nil && sel.Matches(podLabels)
	}) {
		t.Errorf("chart: no zone topologySpreadConstraint with maxSkew 1 selecting the pods: %+v", spread)
	}

	pdbs := only[*policyv1.PodDisruptionBudget](objs, "")
	if len(pdbs) != 1 || pdbs[0].Spec.MaxUnavailable == nil || pdbs[0].Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("want one PodDisruptionBudget with maxUnavailable 1, have %d", len(pdbs))
	}
	if sel, err := metav1.LabelSelectorAsSelector(pdbs[0].Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget does not select the pods")
	}

	leaf := listenPort(t, p.inv.flags["leaf"])
	var leafSvcs int
	for _, s := range p.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
			t.Errorf("service %s does not select the pods", s.Name)
		}
		for _, port := range s.Spec.Ports {
			if containerPort(p.c, port.TargetPort) == leaf {
				leafSvcs++
				if s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Spec.Ports) != 1 {
					t.Errorf("service %s: the leafnode port needs its own LoadBalancer Service with only that port", s.Name)
				}
			}
			if containerPort(p.c, port.TargetPort) == clusterPort && s.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("service %s exposes the route port outside the headless Service", s.Name)
			}
		}
	}
	if leafSvcs != 1 {
		t.Errorf("%d Services expose the leafnode port, want 1", leafSvcs)
	}
	checkChartPolicy(t, objs, p, clusterPort)
}

// checkRoutes wants --routes to name every pod of the StatefulSet, through
// a headless Service that publishes pods before they are ready, on the
// port --cluster listens on.
func checkRoutes(t *testing.T, p cloudPart) int32 {
	t.Helper()
	port := listenPort(t, strings.Replace(p.inv.flags["cluster"], "$(POD_IP)", "10.0.0.1", 1))
	if portNamed(p.c, port) == "" {
		t.Errorf("chart: --cluster port %d is not a containerPort", port)
	}
	if e := envNamed(p.c, "POD_IP"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Error("chart: --cluster $(POD_IP):... needs POD_IP from status.podIP")
	}
	i := slices.IndexFunc(p.services, func(s *corev1.Service) bool { return s.Name == p.sts.Spec.ServiceName })
	if i < 0 {
		t.Fatalf("chart: no Service %s (the StatefulSet's serviceName)", p.sts.Spec.ServiceName)
	}
	if h := p.services[i]; h.Spec.ClusterIP != corev1.ClusterIPNone || !h.Spec.PublishNotReadyAddresses {
		t.Errorf("service %s: must be headless and publish not-ready addresses (members find each other before they are ready)", h.Name)
	}
	var want []string
	for n := range int(*p.sts.Spec.Replicas) {
		want = append(want, fmt.Sprintf("nats-route://%s-%d.%s.%s.svc.cluster.local:%d", p.sts.Name, n, p.sts.Spec.ServiceName, cloudNS, port))
	}
	if got := strings.Split(p.inv.flags["routes"], ","); !slices.Equal(got, want) {
		t.Errorf("chart: --routes %q, want every pod: %q", got, want)
	}
	return port
}

// checkChartPolicy wants the route port open only to the StatefulSet's own
// pods, and every other port of the container named in some rule.
func checkChartPolicy(t *testing.T, objs []object, p cloudPart, clusterPort int32) {
	t.Helper()
	nps := policiesFor(t, objs, "", p.sts)
	if len(nps) != 1 {
		t.Fatalf("want one NetworkPolicy for the pods, have %d", len(nps))
	}
	podLabels := labels.Set(p.sts.Spec.Template.Labels)
	open := map[int32]bool{}
	for _, r := range nps[0].Spec.Ingress {
		for _, port := range r.Ports {
			n := containerPort(p.c, *port.Port)
			open[n] = true
			if n != clusterPort {
				continue
			}
			if len(r.From) == 0 || slices.ContainsFunc(r.From, func(peer networkingv1.NetworkPolicyPeer) bool {
				if peer.PodSelector == nil || peer.IPBlock != nil || peer.NamespaceSelector != nil {
					return true
				}
				sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				return err != nil || !sel.Matches(podLabels)
			}) {
				t.Errorf("NetworkPolicy %s: the route port %d is open to more than the StatefulSet's pods: %+v", nps[0].Name, clusterPort, r.From)
			}
		}
	}
	for _, cp := range p.c.Ports {
		if !open[cp.ContainerPort] {
			t.Errorf("NetworkPolicy %s: port %s (%d) is not admitted", nps[0].Name, cp.Name, cp.ContainerPort)
		}
	}
}

// checkRouteSecret wants --cluster-secret-file on a read-only mount of a
// Secret in the release holding at least 16 characters (stadion up
// refuses shorter, and a route listener beyond loopback without one).
func checkRouteSecret(t *testing.T, objs []object, p cloudPart) {
	t.Helper()
	file := p.inv.flags["cluster-secret-file"]
	m, rel, ok := mountFor(p.c, file)
	v := volumeNamed(p.sts.Spec.Template.Spec, m.Name)
	if !ok || !m.ReadOnly || v == nil || v.Secret == nil {
		t.Fatalf("chart: --cluster-secret-file %q must be on a read-only Secret mount", file)
	}
	secrets := only[*corev1.Secret](objs, "")
	i := slices.IndexFunc(secrets, func(s *corev1.Secret) bool { return s.Name == v.Secret.SecretName })
	if i < 0 {
		t.Fatalf("chart: Secret %s is not in the release", v.Secret.SecretName)
	}
	if got := secrets[i].Data[rel]; len(got) < 16 {
		t.Errorf("chart: the route secret %s/%s has %d bytes, want at least 16", secrets[i].Name, rel, len(got))
	}
}

func envNamed(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// With an external NATS cluster the pods run no engine: no routes, no
// leafnode Service, the URL from a Secret; KEDA and the PodMonitor render.
func TestChartExternalEngine(t *testing.T) {
	objs, _ := renderChart(t, "engine.mode=external", "engine.nodes=4", "engine.external.urlSecret.name=nats-url",
		"keda.enabled=true", "keda.natsMonitoringEndpoint=nats.nats:8222", "monitoring.podMonitor.enabled=true")
	p := chartPod(t, objs)
	if len(only[*corev1.Secret](objs, "")) != 0 {
		t.Error("external engine: the chart made a route secret")
	}
	for _, f := range []string{"cluster", "routes", "node", "nats", "leaf", "cluster-secret-file"} {
		if v, ok := p.inv.flags[f]; ok {
			t.Errorf("external engine: --%s %s is set", f, v)
		}
	}
	if p.inv.flags["nats-url"] != "$(STADION_NATS_URL)" {
		t.Errorf("external engine: --nats-url %q", p.inv.flags["nats-url"])
	}
	if e := envNamed(p.c, "STADION_NATS_URL"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "nats-url" {
		t.Errorf("external engine: STADION_NATS_URL must come from the Secret nats-url: %+v", e)
	}
	for _, s := range p.services {
		for _, port := range s.Spec.Ports {
			if port.Name == "leaf" || port.Name == "cluster" || port.Name == "nats" {
				t.Errorf("external engine: service %s exposes %s", s.Name, port.Name)
			}
		}
	}
	so := only[*ScaledObject](objs, "")
	if len(so) != 1 || so[0].Spec.ScaleTargetRef.Name != p.sts.Name || so[0].Spec.ScaleTargetRef.Kind != "StatefulSet" || len(so[0].Spec.Triggers) == 0 {
		t.Fatalf("want one ScaledObject scaling the StatefulSet, have %+v", so)
	}
	for _, tr := range so[0].Spec.Triggers {
		if tr.Type != "nats-jetstream" || tr.Metadata["consumer"] == "" || tr.Metadata["lagThreshold"] == "" {
			t.Errorf("ScaledObject trigger %+v: want nats-jetstream on a consumer's lag", tr)
		}
	}
	pm := only[*PodMonitor](objs, "")
	if len(pm) != 1 || len(pm[0].Spec.PodMetricsEndpoints) != 1 || pm[0].Spec.PodMetricsEndpoints[0].Path != "/metrics" || portNamed(p.c, listenPort(t, p.inv.flags["http"])) != pm[0].Spec.PodMetricsEndpoints[0].Port {
		t.Errorf("want one PodMonitor on /metrics of the http port, have %+v", pm)
	}
}

// Values that cannot work are refused at render time, naming the value.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"more replicas than nodes", []string{"engine.nodes=1"}, "engine.replicas: 3 needs at least 3 nodes"},
		{"even cluster", []string{"engine.nodes=4"}, "engine.nodes: 4"},
		{"replicas 2", []string{"engine.replicas=2"}, "engine.replicas: 2"},
		{"unknown mode", []string{"engine.mode=sidecar"}, "engine.mode"},
		{"external without url", []string{"engine.mode=external"}, "engine.external.url"},
		{"latest", []string{"image.tag=latest"}, "image.tag"},
		{"memory in bytes", []string{"resources.limits.memory=2000000000"}, "resources.limits.memory"},
		{"keda on the embedded engine", []string{"keda.enabled=true", "keda.natsMonitoringEndpoint=x:8222"}, "keda.enabled: needs engine.mode external"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"template", "games", chartDir}
			for _, s := range tc.sets {
				args = append(args, "--set", s)
			}
			_, err := helm(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The chart passes our own pre-event review with grade A: no memory
// finding, nothing critical.
func TestChartPassesInspect(t *testing.T) {
	_, out := renderChart(t)
	file := filepath.Join(t.TempDir(), "chart.yaml")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inspect.ReadPaths([]string{file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := inspect.Inspect(inv, inspect.Options{})
	if rep.Summary.Workloads != 1 {
		t.Fatalf("inspect saw %d workloads, want 1", rep.Summary.Workloads)
	}
	for _, f := range rep.Findings {
		t.Logf("%s %s %s/%s: %s", f.Severity, f.Rule, f.Object, f.Container, f.Message)
		if f.Category == "memory" || f.Severity == inspect.Critical {
			t.Errorf("%s %s %s/%s: %s", f.Severity, f.Rule, f.Object, f.Container, f.Message)
		}
	}
	if !inspect.GradeAtLeast(rep.Grade, "A") {
		t.Errorf("inspect grade %s (score %d), want A", rep.Grade, rep.Score)
	}
}

// Five nodes with R5 and the operator's own route secret: routes name all
// five pods, and the pods mount that Secret instead of one the chart makes.
func TestChartFiveNodesWithOwnSecret(t *testing.T) {
	objs, _ := renderChart(t, "engine.nodes=5", "engine.replicas=5", "engine.cluster.secret.existingSecret=games-routes")
	p := chartPod(t, objs)
	if r := p.sts.Spec.Replicas; r == nil || *r != 5 {
		t.Fatalf("replicas %v, want 5", r)
	}
	wantFlags(t, "chart", p.inv, "up", map[string]string{"replicas": "5"})
	checkRoutes(t, p)
	if n := len(only[*corev1.Secret](objs, "")); n != 0 {
		t.Errorf("the chart made %d Secrets beside the operator's", n)
	}
	m, _, ok := mountFor(p.c, p.inv.flags["cluster-secret-file"])
	if v := volumeNamed(p.sts.Spec.Template.Spec, m.Name); !ok || v == nil || v.Secret == nil || v.Secret.SecretName != "games-routes" {
		t.Errorf("--cluster-secret-file is not on the Secret games-routes")
	}
}
