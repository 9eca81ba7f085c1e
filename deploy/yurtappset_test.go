package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// Labels OpenYurt's YurtAppSet controller puts on the workloads it stamps
// out, and the node label that pins them to their pool.
const (
	poolNameLabel = "apps.openyurt.io/pool-name"
	nodePoolLabel = "apps.openyurt.io/nodepool"
)

// renderPool builds the StatefulSet that OpenYurt's YurtAppSet controller
// (v1beta1, workloadmanager.StatefulSetManager.ApplyTemplate) creates for
// one pool: the template's spec, the pool's name in the selector, the pod
// labels and the node selector, then every tweak that names the pool
// (replicas, container images, then JSON patches with "{{nodepool-name}}"
// replaced). The test then checks what each venue actually runs.
func renderPool(yas *YurtAppSet, pool string) (*appsv1.StatefulSet, error) {
	tmpl := yas.Spec.StatefulSetTemplate
	if tmpl == nil {
		return nil, fmt.Errorf("yurtappset %s: no statefulSetTemplate", yas.Name)
	}
	sts := &appsv1.StatefulSet{}
	sts.APIVersion, sts.Kind = "apps/v1", "StatefulSet"
	sts.Name, sts.Namespace = yas.Name+"-"+pool, yas.Namespace
	sts.Labels = merge(tmpl.Labels, map[string]string{poolNameLabel: pool})
	sts.Spec = *tmpl.Spec.DeepCopy()
	if sts.Spec.Selector != nil {
		sts.Spec.Selector.MatchLabels = merge(sts.Spec.Selector.MatchLabels, map[string]string{poolNameLabel: pool})
	}
	sts.Spec.Template.Labels = merge(sts.Spec.Template.Labels, tmpl.Labels, map[string]string{poolNameLabel: pool})
	sts.Spec.Template.Spec.NodeSelector = merge(sts.Spec.Template.Spec.NodeSelector, map[string]string{nodePoolLabel: pool})
	for _, tw := range yas.Spec.WorkloadTweaks {
		if slices.Contains(tw.Pools, pool) {
			if err := applyTweaks(sts, tw.Tweaks, pool); err != nil {
				return nil, fmt.Errorf("pool %s: %w", pool, err)
			}
		}
	}
	return sts, nil
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

func applyTweaks(sts *appsv1.StatefulSet, tw Tweaks, pool string) error {
	if tw.Replicas != nil {
		sts.Spec.Replicas = tw.Replicas
	}
	pod := &sts.Spec.Template.Spec
	for _, ci := range tw.ContainerImages {
		for i := range pod.Containers {
			if pod.Containers[i].Name == ci.Name {
				pod.Containers[i].Image = ci.TargetImage
			}
		}
		for i := range pod.InitContainers {
			if pod.InitContainers[i].Name == ci.Name {
				pod.InitContainers[i].Image = ci.TargetImage
			}
		}
	}
	if len(tw.Patches) == 0 {
		return nil
	}
	var doc any
	if err := roundTrip(sts, &doc); err != nil {
		return err
	}
	for _, p := range tw.Patches {
		raw := strings.ReplaceAll(string(p.Value), "{{nodepool-name}}", pool)
		var err error
		if doc, err = applyPatch(doc, p.Operation, p.Path, []byte(raw)); err != nil {
			return fmt.Errorf("patch %s %s: %w", p.Operation, p.Path, err)
		}
	}
	*sts = appsv1.StatefulSet{}
	return roundTrip(doc, sts)
}

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// applyPatch applies one RFC 6902 add, remove or replace to doc (decoded
// JSON). Like the evanphx/json-patch library OpenYurt uses, a path that
// does not exist is an error (add may create the last member only).
func applyPatch(doc any, op, path string, value []byte) (any, error) {
	if op != "add" && op != "remove" && op != "replace" {
		return nil, fmt.Errorf("operation must be add, remove or replace")
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path must start with '/'")
	}
	var v any
	if op != "remove" {
		if err := json.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
	}
	tokens := strings.Split(path[1:], "/")
	for i, tok := range tokens {
		tokens[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
	}
	return patchAt(doc, tokens, op, v)
}

// patchAt walks to the parent of the last token and changes it there,
// returning the (possibly new) container.
func patchAt(node any, tokens []string, op string, v any) (any, error) {
	tok, last := tokens[0], len(tokens) == 1
	switch n := node.(type) {
	case map[string]any:
		child, ok := n[tok]
		if !last {
			if !ok {
				return nil, fmt.Errorf("no member %q", tok)
			}
			c, err := patchAt(child, tokens[1:], op, v)
			n[tok] = c
			return n, err
		}
		if !ok && op != "add" {
			return nil, fmt.Errorf("no member %q", tok)
		}
		if op == "remove" {
			delete(n, tok)
		} else {
			n[tok] = v
		}
		return n, nil
	case []any:
		i, err := index(tok, len(n), last && op == "add")
		if err != nil {
			return nil, err
		}
		if !last {
			c, err := patchAt(n[i], tokens[1:], op, v)
			n[i] = c
			return n, err
		}
		switch op {
		case "add":
			return slices.Insert(n, i, v), nil
		case "remove":
			return slices.Delete(n, i, i+1), nil
		default:
			n[i] = v
			return n, nil
		}
	default:
		return nil, fmt.Errorf("cannot descend into %T at %q", node, tok)
	}
}

// index parses an array index; "-" (append) and len are allowed for add.
func index(tok string, n int, adding bool) (int, error) {
	if tok == "-" && adding {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > n || (i == n && !adding) {
		return 0, fmt.Errorf("index %q out of range (len %d)", tok, n)
	}
	return i, nil
}
