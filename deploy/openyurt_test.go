package deploy

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OpenYurt's API types, copied field for field (names, JSON tags, nesting)
// from github.com/openyurtio/openyurt/pkg/apis/apps: NodePool from v1beta2
// and YurtAppSet from v1beta1. Neither github.com/openyurtio/api nor
// github.com/openyurtio/openyurt resolves through the Go module proxy this
// project builds with, so the test cannot import them. Only what a manifest
// may set is copied: status is written by the controllers, so a manifest
// carrying one is rejected as an unknown field. Patch.Value is
// apiextensionsv1.JSON upstream (any JSON value); json.RawMessage decodes
// the same documents without pulling in the apiextensions module.

// NodePool is apps.openyurt.io/v1beta2 NodePool: a group of nodes (here,
// one venue's servers) that OpenYurt manages as a unit.
type NodePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              NodePoolSpec `json:"spec,omitempty"`
}

// NodePoolSpec is the desired state of a NodePool.
type NodePoolSpec struct {
	Type                    string                        `json:"type,omitempty"` // Edge or Cloud
	HostNetwork             bool                          `json:"hostNetwork,omitempty"`
	Labels                  map[string]string             `json:"labels,omitempty"`
	Annotations             map[string]string             `json:"annotations,omitempty"`
	Taints                  []corev1.Taint                `json:"taints,omitempty"`
	InterConnectivity       bool                          `json:"interConnectivity,omitempty"`
	LeaderElectionStrategy  string                        `json:"leaderElectionStrategy,omitempty"`
	LeaderNodeLabelSelector map[string]string             `json:"leaderNodeLabelSelector,omitempty"`
	EnableLeaderElection    bool                          `json:"enableLeaderElection,omitempty"`
	PoolScopeMetadata       []metav1.GroupVersionResource `json:"poolScopeMetadata,omitempty"`
	LeaderReplicas          int32                         `json:"leaderReplicas,omitempty"`
}

// YurtAppSet is apps.openyurt.io/v1beta1 YurtAppSet: one workload template
// stamped out per selected NodePool, with per-pool tweaks.
type YurtAppSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              YurtAppSetSpec `json:"spec,omitempty"`
}

// YurtAppSetSpec is the desired state of a YurtAppSet.
type YurtAppSetSpec struct {
	Workload             `json:"workload"`
	NodePoolSelector     *metav1.LabelSelector `json:"nodepoolSelector,omitempty"`
	Pools                []string              `json:"pools,omitempty"`
	RevisionHistoryLimit *int32                `json:"revisionHistoryLimit,omitempty"`
}

// Workload is the template and the per-pool tweaks.
type Workload struct {
	WorkloadTemplate `json:"workloadTemplate"`
	WorkloadTweaks   []WorkloadTweak `json:"workloadTweaks,omitempty"`
}

// WorkloadTemplate holds exactly one of a StatefulSet or Deployment template.
type WorkloadTemplate struct {
	StatefulSetTemplate *StatefulSetTemplateSpec `json:"statefulSetTemplate,omitempty"`
	DeploymentTemplate  *DeploymentTemplateSpec  `json:"deploymentTemplate,omitempty"`
}

// StatefulSetTemplateSpec is a StatefulSet's metadata and spec.
type StatefulSetTemplateSpec struct {
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              appsv1.StatefulSetSpec `json:"spec"`
}

// DeploymentTemplateSpec is a Deployment's metadata and spec.
type DeploymentTemplateSpec struct {
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              appsv1.DeploymentSpec `json:"spec"`
}

// WorkloadTweak applies Tweaks to the workloads of the pools it selects.
type WorkloadTweak struct {
	NodePoolSelector *metav1.LabelSelector `json:"nodepoolSelector,omitempty"`
	Pools            []string              `json:"pools,omitempty"`
	Tweaks           `json:"tweaks"`
}

// Tweaks override replicas and images, and patch anything else.
type Tweaks struct {
	Replicas        *int32           `json:"replicas,omitempty"`
	ContainerImages []ContainerImage `json:"containerImages,omitempty"`
	Patches         []Patch          `json:"patches,omitempty"`
}

// ContainerImage replaces the image of the container (or init container)
// called Name.
type ContainerImage struct {
	Name        string `json:"name"`
	TargetImage string `json:"targetImage"`
}

// Patch is one RFC 6902 operation (add, remove or replace) on the whole
// workload object; "{{nodepool-name}}" in Value is replaced by the pool.
type Patch struct {
	Path      string          `json:"path"`
	Operation string          `json:"operation"`
	Value     json.RawMessage `json:"value,omitempty"`
}
