package inspect

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fakeAPIServer serves list responses built from the Kubernetes API types.
func fakeAPIServer(t *testing.T) *httptest.Server {
	t.Helper()
	jvm := func(name string, limit string) appsv1.Deployment {
		two := int32(2)
		return appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "games"},
			Spec: appsv1.DeploymentSpec{Replicas: &two, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "eclipse-temurin:21-jre",
					EnvFrom:   []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "jvm"}}}},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)}},
				}}},
			}},
		}
	}
	yes := true
	pages := map[string]any{
		"/apis/apps/v1/deployments?p1": appsv1.DeploymentList{ListMeta: metav1.ListMeta{Continue: "p2"}, Items: []appsv1.Deployment{jvm("results", "2Gi")}},
		"/apis/apps/v1/deployments?p2": appsv1.DeploymentList{Items: []appsv1.Deployment{jvm("schedule", "8Gi")}},
		"/api/v1/configmaps?p1":        corev1.ConfigMapList{Items: []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "jvm", Namespace: "games"}, Data: map[string]string{"JAVA_TOOL_OPTIONS": "-Xmx2g"}}}},
		"/api/v1/pods?p1": corev1.PodList{Items: []corev1.Pod{
			{ObjectMeta: metav1.ObjectMeta{Name: "results-abc", Namespace: "games", OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "results-x", Controller: &yes}}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: "games"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sh", Image: "busybox"}}}},
		}},
		"/apis/policy/v1/poddisruptionbudgets?p1": policyv1.PodDisruptionBudgetList{Items: []policyv1.PodDisruptionBudget{{
			ObjectMeta: metav1.ObjectMeta{Name: "results", Namespace: "games"},
			Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &intstr.IntOrString{IntVal: 1}, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "results"}}},
		}}},
	}
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" {
			http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("limit") != "500" {
			t.Errorf("%s: no page limit", r.URL)
		}
		switch r.URL.Path {
		case "/api/v1/limitranges":
			http.Error(w, `{"kind":"Status","code":403}`, http.StatusForbidden)
			return
		case "/apis/autoscaling/v2/horizontalpodautoscalers":
			http.NotFound(w, r)
			return
		}
		page := "p1"
		if c := r.URL.Query().Get("continue"); c != "" {
			page = c
		}
		body, ok := pages[r.URL.Path+"?"+page]
		if !ok {
			fmt.Fprint(w, `{"kind":"List","metadata":{},"items":[]}`)
			return
		}
		must(t, json.NewEncoder(w).Encode(body))
	}))
}

func writeKubeconfig(t *testing.T, srv *httptest.Server, user string) string {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "token"), []byte("t0ken\n"), 0o600))
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: games
contexts:
- name: games
  context: {cluster: games, user: %s}
- name: other
  context: {cluster: missing, user: reviewer}
clusters:
- name: games
  cluster: {server: %s, certificate-authority-data: %s}
users:
- name: reviewer
  user: {tokenFile: token}
- name: sso
  user: {exec: {command: kubelogin}}
`, user, srv.URL, base64.StdEncoding.EncodeToString(ca))
	path := filepath.Join(dir, "config")
	must(t, os.WriteFile(path, []byte(kc), 0o600))
	return path
}

func TestReadCluster(t *testing.T) {
	srv := fakeAPIServer(t)
	defer srv.Close()
	cfg, err := LoadKubeconfig(writeKubeconfig(t, srv, "reviewer"), "")
	if err != nil {
		t.Fatal(err)
	}
	inv := NewInventory()
	warnings, err := inv.ReadCluster(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "limitranges") || !strings.Contains(warnings[1], "horizontalpodautoscalers") {
		t.Errorf("warnings %q, want limitranges (403) and horizontalpodautoscalers (404)", warnings)
	}
	var ids []string
	for _, w := range inv.Workloads {
		ids = append(ids, w.ID())
	}
	slices.Sort(ids)
	if want := []string{"Deployment/games/results", "Deployment/games/schedule", "Pod/games/debug"}; !slices.Equal(ids, want) {
		t.Fatalf("workloads %v, want %v (both pages, the controlled pod skipped)", ids, want)
	}
	rep := Inspect(inv, Options{})
	var got []string
	for _, f := range rep.Findings {
		if f.Category == CatMemory || f.Rule == "pdb-missing" {
			got = append(got, f.Object+" "+f.Rule)
		}
	}
	for _, want := range []string{"Deployment/games/results jvm-heap-over-limit", "Deployment/games/schedule jvm-heap-fixed", "Deployment/games/schedule pdb-missing"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in %v", want, got)
		}
	}
	if slices.Contains(got, "Deployment/games/results pdb-missing") {
		t.Error("the PDB listed from the cluster was not used")
	}
}

func TestReadClusterErrors(t *testing.T) {
	srv := fakeAPIServer(t)
	defer srv.Close()
	path := writeKubeconfig(t, srv, "reviewer")
	cfg, err := LoadKubeconfig(path, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Token = "wrong"
	if _, err := NewInventory().ReadCluster(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad token: %v, want a 401 error", err)
	}
	cfg.Token, cfg.CA = "t0ken", nil
	if _, err := NewInventory().ReadCluster(context.Background(), cfg); err == nil {
		t.Error("a server certificate from an unknown CA was accepted")
	}
	if _, err := LoadKubeconfig(path, "other"); err == nil || !strings.Contains(err.Error(), `no cluster "missing"`) {
		t.Errorf("context with a missing cluster: %v", err)
	}
	if _, err := LoadKubeconfig(path, "nope"); err == nil || !strings.Contains(err.Error(), `no context "nope"`) {
		t.Errorf("missing context: %v", err)
	}
	if _, err := LoadKubeconfig(writeKubeconfig(t, srv, "sso"), ""); err == nil || !strings.Contains(err.Error(), "kubectl get") {
		t.Errorf("exec plugin: %v, want advice to pipe kubectl", err)
	}
}

func TestInClusterConfig(t *testing.T) {
	dir := t.TempDir()
	old := serviceAccountDir
	serviceAccountDir = dir
	t.Cleanup(func() { serviceAccountDir = old })
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := InClusterConfig(); err == nil {
		t.Fatal("no error outside a pod")
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	must(t, os.WriteFile(filepath.Join(dir, "token"), []byte("sa-token\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("pem"), 0o600))
	cfg, err := InClusterConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "https://10.96.0.1:443" || cfg.Token != "sa-token" || string(cfg.CA) != "pem" {
		t.Fatalf("config %+v", cfg)
	}
}
