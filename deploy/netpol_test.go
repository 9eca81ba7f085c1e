package deploy

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// policiesFor returns the NetworkPolicies under dir that select the pods
// of sts.
func policiesFor(t *testing.T, objs []object, dir string, sts *appsv1.StatefulSet) []*networkingv1.NetworkPolicy {
	t.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, np := range only[*networkingv1.NetworkPolicy](objs, dir) {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatalf("NetworkPolicy %s: %v", np.Name, err)
		}
		if np.Namespace == sts.Namespace && sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
			out = append(out, np)
		}
	}
	return out
}

// ruleTCPPorts flattens the TCP ports of a policy's rules, resolving named
// ports against c. A rule without ports (all ports) yields -1.
func ruleTCPPorts(c corev1.Container, rules [][]networkingv1.NetworkPolicyPort) []int32 {
	var out []int32
	for _, ports := range rules {
		if len(ports) == 0 {
			out = append(out, -1)
		}
		for _, p := range ports {
			switch {
			case p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP:
			case p.Port == nil || p.EndPort != nil:
				out = append(out, -1)
			default:
				out = append(out, containerPort(c, *p.Port))
			}
		}
	}
	return out
}

func ingressPorts(c corev1.Container, np *networkingv1.NetworkPolicy) []int32 {
	var rules [][]networkingv1.NetworkPolicyPort
	for _, r := range np.Spec.Ingress {
		rules = append(rules, r.Ports)
	}
	return ruleTCPPorts(c, rules)
}

func TestCloudNetworkPolicy(t *testing.T) {
	p := loadCloud(t)
	nps := policiesFor(t, loadManifests(t, "."), "cloud/", p.sts)
	if len(nps) != 1 {
		t.Fatalf("want one NetworkPolicy selecting the cloud pod, have %d", len(nps))
	}
	allowed := ingressPorts(p.c, nps[0])
	for _, f := range []string{"http", "nats", "leaf", "mqtt"} {
		if !slices.Contains(allowed, listenPort(t, p.inv.flags[f])) {
			t.Errorf("NetworkPolicy %s does not admit --%s %s", nps[0].Name, f, p.inv.flags[f])
		}
	}
	for _, port := range allowed {
		if portNamed(p.c, port) == "" {
			t.Errorf("NetworkPolicy %s admits port %d, which nothing listens on", nps[0].Name, port)
		}
	}
}

// checkEdgePolicy wants the pool's pods under one policy that admits only
// the HTTP API and lets out only DNS and the leafnode link.
func checkEdgePolicy(t *testing.T, objs []object, sts *appsv1.StatefulSet, c corev1.Container, httpPort, leafPort int32) {
	t.Helper()
	nps := policiesFor(t, objs, "edge/", sts)
	if len(nps) != 1 {
		t.Fatalf("want one NetworkPolicy selecting the edge pod, have %d", len(nps))
	}
	np := nps[0]
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy %s must restrict both ingress and egress", np.Name)
	}
	if in := ingressPorts(c, np); !slices.Equal(in, []int32{httpPort}) {
		t.Errorf("NetworkPolicy %s admits TCP ports %v, want only the HTTP API %d", np.Name, in, httpPort)
	}
	var rules [][]networkingv1.NetworkPolicyPort
	for _, r := range np.Spec.Egress {
		rules = append(rules, r.Ports)
	}
	out := ruleTCPPorts(c, rules)
	if !slices.Contains(out, leafPort) {
		t.Errorf("NetworkPolicy %s does not let the edge dial the leafnode port %d", np.Name, leafPort)
	}
	for _, port := range out {
		if port != leafPort && port != 53 {
			t.Errorf("NetworkPolicy %s lets the edge out on TCP port %d (want only %d and DNS)", np.Name, port, leafPort)
		}
	}
}
