package deploy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"os"
	"strings"
	"testing"
)

// The namespaces of the two parts, and the command lines they must run.
const (
	cloudNS = "stadion"
	edgeNS  = "stadion-venues"
)

var (
	cloudFlags = map[string]string{
		"data": "/data", "config": "/etc/stadion/stadion.yaml",
		"http": "0.0.0.0:8080", "nats": "0.0.0.0:4222", "leaf": "0.0.0.0:7422", "mqtt": "0.0.0.0:1883",
	}
	edgeFlags = map[string]string{
		"creds": "/etc/stadion/venue.creds", "data": "/data", "http": "0.0.0.0:8080",
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

func TestCloudNamespaceEnforcesRestricted(t *testing.T) {
	for _, ns := range only[*corev1.Namespace](loadManifests(t, "."), "cloud/") {
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Errorf("namespace %s: pod-security.kubernetes.io/enforce = %q, want restricted", ns.Name, ns.Labels["pod-security.kubernetes.io/enforce"])
		}
	}
}

// TestREADMEListsEveryManifest keeps deploy/README.md's table true.
func TestREADMEListsEveryManifest(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range loadManifests(t, ".") {
		if !seen[o.file] && !strings.Contains(string(readme), "`"+o.file+"`") {
			t.Errorf("README.md does not describe %s", o.file)
		}
		seen[o.file] = true
	}
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
