package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds maps apiVersion/kind to a new object of the Kubernetes API type that
// documents of that kind decode into. A kind not listed fails the test:
// add it here (with its real type) before a manifest uses it.
var kinds = map[string]func() any{
	"v1/Namespace":                        func() any { return new(corev1.Namespace) },
	"v1/ConfigMap":                        func() any { return new(corev1.ConfigMap) },
	"v1/Service":                          func() any { return new(corev1.Service) },
	"v1/ServiceAccount":                   func() any { return new(corev1.ServiceAccount) },
	"v1/Secret":                           func() any { return new(corev1.Secret) },
	"apps/v1/StatefulSet":                 func() any { return new(appsv1.StatefulSet) },
	"apps/v1/Deployment":                  func() any { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget":       func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/Ingress":        func() any { return new(networkingv1.Ingress) },
	"networking.k8s.io/v1/NetworkPolicy":  func() any { return new(networkingv1.NetworkPolicy) },
	"apps.openyurt.io/v1beta2/NodePool":   func() any { return new(NodePool) },
	"apps.openyurt.io/v1beta1/YurtAppSet": func() any { return new(YurtAppSet) },
	"monitoring.coreos.com/v1/PodMonitor": func() any { return new(PodMonitor) },
	"keda.sh/v1alpha1/ScaledObject":       func() any { return new(ScaledObject) },
}

// object is one decoded manifest document.
type object struct {
	file string // path relative to deploy/, e.g. cloud/service.yaml
	doc  int    // index of the document in its file
	kind string // apiVersion/kind
	obj  any    // *corev1.Service, *YurtAppSet, ...
}

func (o object) String() string { return fmt.Sprintf("%s#%d (%s)", o.file, o.doc, o.kind) }

// loadManifests decodes every YAML document under dir, failing the test on
// the first one that does not decode strictly.
func loadManifests(t *testing.T, dir string) []object {
	t.Helper()
	var objs []object
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path == filepath.Join(dir, "helm") {
			return fs.SkipDir // templates, not manifests: helm_test.go renders them
		}
		if err != nil || d.IsDir() || !isYAML(path) {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		got, err := decodeFile(filepath.ToSlash(rel), path)
		objs = append(objs, got...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("no manifests under %s", dir)
	}
	return objs
}

func isYAML(path string) bool {
	ext := filepath.Ext(path)
	return ext == ".yaml" || ext == ".yml"
}

func decodeFile(rel, path string) ([]object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeStream(rel, f)
}

// decodeStream splits a YAML stream into documents and decodes each.
// Documents holding only comments are skipped.
func decodeStream(name string, r io.Reader) ([]object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var objs []object
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return objs, fmt.Errorf("%s#%d: %w", name, i, err)
		}
		o, empty, err := decodeDoc(doc)
		if err != nil {
			return objs, fmt.Errorf("%s#%d: %w", name, i, err)
		}
		if !empty {
			o.file, o.doc = name, i
			objs = append(objs, o)
		}
	}
}

// decodeDoc decodes one document into its API type the way the API server's
// strict field validation does: duplicate keys, unknown fields and fields in
// the wrong case are errors.
func decodeDoc(doc []byte) (o object, empty bool, err error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return o, false, err
	}
	if t := bytes.TrimSpace(js); bytes.Equal(t, []byte("null")) || len(t) == 0 {
		return o, true, nil
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return o, false, err
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return o, false, errors.New("apiVersion and kind are required")
	}
	o.kind = tm.APIVersion + "/" + tm.Kind
	newObj, ok := kinds[o.kind]
	if !ok {
		return o, false, fmt.Errorf("unknown kind %s (add its API type to kinds)", o.kind)
	}
	o.obj = newObj()
	strict, err := kjson.UnmarshalStrict(js, o.obj)
	if err != nil {
		return o, false, err
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return o, false, fmt.Errorf("%s: %s", o.kind, strings.Join(msgs, "; "))
	}
	return o, false, nil
}

// only returns the objects of type T whose file is under dir ("" for all).
func only[T any](objs []object, dir string) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok && strings.HasPrefix(o.file, dir) {
			out = append(out, v)
		}
	}
	return out
}
