package inspect

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// envVal is one environment variable as the manifests define it.
type envVal struct {
	value  string
	source string // "env JAVA_OPTS", "ConfigMap app-env key JAVA_OPTS"
	known  bool   // false for Secrets and ConfigMaps not in the input
}

// container is one container with everything the rules need to know.
type container struct {
	w       *Workload
	c       *corev1.Container
	kind    string // "container", "init container", "sidecar"
	env     map[string]envVal
	hidden  []string // envFrom sources whose variables are not in the input
	limit   int64    // memory limit in bytes, 0 for none
	limitOf string   // "limits.memory" or "LimitRange NAME default"
	request int64    // memory request in bytes, 0 for none
	argv    []word   // command and args after $(VAR) expansion
	rt      runtimeInfo
}

// title names the container at the start of a sentence: "Container app",
// "Init container migrate", "Sidecar otel".
func (ct *container) title() string {
	return strings.ToUpper(ct.kind[:1]) + ct.kind[1:] + " " + ct.c.Name
}

func (ct *container) lookup(name string) (value, source string, known, set bool) {
	v, ok := ct.env[name]
	return v.value, v.source, v.known, ok
}

// containers lists a workload's containers: init containers (restartable
// ones are sidecars) and then the main ones.
func (inv *Inventory) containers(w *Workload) []*container {
	spec := &w.Template.Spec
	var out []*container
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		kind := "init container"
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			kind = "sidecar"
		}
		out = append(out, inv.container(w, c, kind))
	}
	for i := range spec.Containers {
		out = append(out, inv.container(w, &spec.Containers[i], "container"))
	}
	return out
}

func (inv *Inventory) container(w *Workload, c *corev1.Container, kind string) *container {
	ct := &container{w: w, c: c, kind: kind, env: map[string]envVal{}}
	ct.limit, ct.limitOf, ct.request = inv.memory(w.Namespace, c)
	inv.resolveEnv(ct)
	for _, part := range []struct {
		list []string
		name string
	}{{c.Command, "command"}, {c.Args, "args"}} {
		for _, s := range part.list {
			text, srcs, dyn := expandK8s(s, ct.lookup)
			src := part.name
			if len(srcs) > 0 {
				src = srcs[0]
			}
			ct.argv = append(ct.argv, word{text: text, source: src, dynamic: dyn})
		}
	}
	ct.rt = detectRuntime(ct)
	return ct
}

// memory returns the container's memory limit and request in bytes, with
// a LimitRange's defaults in the same namespace where the container sets
// none, and the request defaulting to the limit as the API server does.
func (inv *Inventory) memory(ns string, c *corev1.Container) (limit int64, limitOf string, request int64) {
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		limit, limitOf = quantityBytes(q), "limits.memory"
	}
	if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
		request = quantityBytes(q)
	}
	for _, lr := range inv.LimitRanges {
		if lr.Namespace != ns {
			continue
		}
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			if q, ok := it.Default[corev1.ResourceMemory]; ok && limitOf == "" {
				limit, limitOf = quantityBytes(q), "LimitRange "+lr.Name+" default"
			}
			if q, ok := it.DefaultRequest[corev1.ResourceMemory]; ok && request == 0 {
				if _, set := c.Resources.Requests[corev1.ResourceMemory]; !set {
					request = quantityBytes(q)
				}
			}
		}
	}
	if request == 0 && limitOf == "limits.memory" {
		request = limit
	}
	return limit, limitOf, request
}

// resolveEnv builds the container's environment as the kubelet would:
// envFrom first, then env (which wins), $(VAR) references expanded,
// ConfigMaps read from the same input, Secrets unknown.
func (inv *Inventory) resolveEnv(ct *container) {
	ns := ct.w.Namespace
	for _, ef := range ct.c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := inv.ConfigMaps[ns+"/"+ef.ConfigMapRef.Name]
			if cm == nil {
				ct.hidden = append(ct.hidden, "ConfigMap "+ef.ConfigMapRef.Name+" (not in the input)")
				continue
			}
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				ct.env[ef.Prefix+k] = envVal{value: cm.Data[k], source: "ConfigMap " + cm.Name + " key " + k, known: true}
			}
		case ef.SecretRef != nil:
			ct.hidden = append(ct.hidden, "Secret "+ef.SecretRef.Name)
		}
	}
	for _, e := range ct.c.Env {
		ct.env[e.Name] = inv.envValue(ct, e)
	}
}

func (inv *Inventory) envValue(ct *container, e corev1.EnvVar) envVal {
	vf := e.ValueFrom
	switch {
	case vf == nil:
		v, _, dyn := expandK8s(e.Value, ct.lookup)
		return envVal{value: v, source: "env " + e.Name, known: !dyn}
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		src := fmt.Sprintf("ConfigMap %s key %s", ref.Name, ref.Key)
		if cm := inv.ConfigMaps[ct.w.Namespace+"/"+ref.Name]; cm != nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return envVal{value: v, source: src, known: true}
			}
		}
		return envVal{source: src + " (not in the input)"}
	case vf.SecretKeyRef != nil:
		return envVal{source: fmt.Sprintf("Secret %s key %s", vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)}
	case vf.ResourceFieldRef != nil:
		return resourceField(ct, vf.ResourceFieldRef, e.Name)
	}
	return envVal{source: "env " + e.Name + " (fieldRef)"}
}

// resourceField resolves a resourceFieldRef to the container's memory
// limit or request, divided by the divisor and rounded up as the kubelet
// does. Without a limit the kubelet uses the node's allocatable memory,
// which is unknown here.
func resourceField(ct *container, ref *corev1.ResourceFieldSelector, name string) envVal {
	src := "env " + name + " (resourceFieldRef " + ref.Resource + ")"
	var n int64
	switch ref.Resource {
	case "limits.memory":
		n = ct.limit
	case "requests.memory":
		n = ct.request
	}
	if n == 0 || (ref.ContainerName != "" && ref.ContainerName != ct.c.Name) {
		return envVal{source: src}
	}
	div := int64(1)
	if !ref.Divisor.IsZero() {
		div = max(quantityBytes(ref.Divisor), 1)
	}
	v := int64(math.Ceil(float64(n) / float64(div)))
	return envVal{value: strconv.FormatInt(v, 10), source: src, known: true}
}
