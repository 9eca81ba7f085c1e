package inspect

import (
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Inventory is everything read from the input, decoded into the
// Kubernetes API types.
type Inventory struct {
	Workloads   []*Workload
	ConfigMaps  map[string]*corev1.ConfigMap // "namespace/name"
	PDBs        []*policyv1.PodDisruptionBudget
	HPAs        []*autoscalingv2.HorizontalPodAutoscaler
	LimitRanges []*corev1.LimitRange
	Objects     int            // objects read, of any kind
	Other       map[string]int // objects of kinds this tool does not inspect, by kind
	// SkippedCharts are the Helm chart directories a directory walk
	// skipped (they are manifests only once rendered).
	SkippedCharts []string
}

// Workload is an object that runs pods.
type Workload struct {
	Kind, Namespace, Name string
	Source                Source
	Annotations           map[string]string // the object's own
	Replicas              *int32            // nil where replicas do not apply (DaemonSet, Job, Pod)
	Template              corev1.PodTemplateSpec
}

// ID is the object as findings name it: Kind/namespace/name.
func (w *Workload) ID() string { return w.Kind + "/" + w.Namespace + "/" + w.Name }

func newInventory() *Inventory {
	return &Inventory{ConfigMaps: map[string]*corev1.ConfigMap{}, Other: map[string]int{}}
}

// NewInventory returns an empty inventory to Read or Add into.
func NewInventory() *Inventory { return newInventory() }

// namespaceOf is where an object lives: objects without a namespace are put
// in "default", as kubectl does without -n.
func namespaceOf(m metav1.ObjectMeta) string {
	if m.Namespace == "" {
		return "default"
	}
	return m.Namespace
}

// Add decodes one object's JSON by its kind. Pods, ReplicaSets and Jobs
// that a controller owns (as `kubectl get all` lists them) are counted
// but not reviewed: their owner is.
func (inv *Inventory) Add(src Source, kind string, data []byte) error {
	inv.Objects++
	if (kind == "Pod" || kind == "ReplicaSet" || kind == "Job") && controlled(data) {
		inv.Other[kind+" (owned by a controller)"]++
		return nil
	}
	decode := func(v any) error {
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("%s (%s): %w", src, kind, err)
		}
		return nil
	}
	wl := func(m metav1.ObjectMeta, replicas *int32, t corev1.PodTemplateSpec) {
		inv.Workloads = append(inv.Workloads, &Workload{Kind: kind, Namespace: namespaceOf(m), Name: m.Name, Source: src,
			Annotations: m.Annotations, Replicas: replicas, Template: t})
	}
	switch kind {
	case "Deployment":
		var o appsv1.Deployment
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, orOne(o.Spec.Replicas), o.Spec.Template)
	case "StatefulSet":
		var o appsv1.StatefulSet
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, orOne(o.Spec.Replicas), o.Spec.Template)
	case "ReplicaSet":
		var o appsv1.ReplicaSet
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, orOne(o.Spec.Replicas), o.Spec.Template)
	case "DaemonSet":
		var o appsv1.DaemonSet
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, nil, o.Spec.Template)
	case "Job":
		var o batchv1.Job
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, nil, o.Spec.Template)
	case "CronJob":
		var o batchv1.CronJob
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, nil, o.Spec.JobTemplate.Spec.Template)
	case "Pod":
		var o corev1.Pod
		if err := decode(&o); err != nil {
			return err
		}
		wl(o.ObjectMeta, nil, corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec})
	case "ConfigMap":
		var o corev1.ConfigMap
		if err := decode(&o); err != nil {
			return err
		}
		inv.ConfigMaps[namespaceOf(o.ObjectMeta)+"/"+o.Name] = &o
	case "PodDisruptionBudget":
		var o policyv1.PodDisruptionBudget
		if err := decode(&o); err != nil {
			return err
		}
		o.Namespace = namespaceOf(o.ObjectMeta)
		inv.PDBs = append(inv.PDBs, &o)
	case "HorizontalPodAutoscaler":
		var o autoscalingv2.HorizontalPodAutoscaler
		if err := decode(&o); err != nil {
			return err
		}
		o.Namespace = namespaceOf(o.ObjectMeta)
		inv.HPAs = append(inv.HPAs, &o)
	case "LimitRange":
		var o corev1.LimitRange
		if err := decode(&o); err != nil {
			return err
		}
		o.Namespace = namespaceOf(o.ObjectMeta)
		inv.LimitRanges = append(inv.LimitRanges, &o)
	default:
		inv.Other[kind]++
	}
	return nil
}

func orOne(r *int32) *int32 {
	if r == nil {
		one := int32(1)
		return &one
	}
	return r
}

// finish sorts workloads so that reports do not depend on input order
// within a kind.
func (inv *Inventory) finish() {
	sort.SliceStable(inv.Workloads, func(i, j int) bool { return inv.Workloads[i].ID() < inv.Workloads[j].ID() })
}
