package deploy

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// invocation is a container's command line: stadion SUBCOMMAND --flag value...
type invocation struct {
	sub   string
	flags map[string]string
}

// parseInvocation reads command+args, rejecting anything but
// `stadion SUB` followed by --flag value or --flag=value pairs.
func parseInvocation(c corev1.Container) (invocation, error) {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) < 2 || argv[0] != "stadion" {
		return invocation{}, fmt.Errorf("container %s runs %q, want stadion SUBCOMMAND", c.Name, argv)
	}
	inv := invocation{sub: argv[1], flags: map[string]string{}}
	for i := 2; i < len(argv); i++ {
		name, ok := strings.CutPrefix(argv[i], "--")
		if !ok {
			return inv, fmt.Errorf("container %s: stray argument %q", c.Name, argv[i])
		}
		name, val, hasVal := strings.Cut(name, "=")
		if !hasVal {
			if i+1 >= len(argv) {
				return inv, fmt.Errorf("container %s: --%s has no value", c.Name, name)
			}
			i++
			val = argv[i]
		}
		if _, dup := inv.flags[name]; dup {
			return inv, fmt.Errorf("container %s: --%s given twice", c.Name, name)
		}
		inv.flags[name] = val
	}
	return inv, nil
}

// wantFlags fails unless inv runs sub with at least these flag values.
func wantFlags(t *testing.T, where string, inv invocation, sub string, want map[string]string) {
	t.Helper()
	if inv.sub != sub {
		t.Errorf("%s: runs stadion %s, want stadion %s", where, inv.sub, sub)
	}
	for name, v := range want {
		if got, ok := inv.flags[name]; !ok || got != v {
			t.Errorf("%s: --%s = %q (set: %v), want %q", where, name, got, ok, v)
		}
	}
}

// listenPort is the port of a --http style listen address ("0.0.0.0:8080").
func listenPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("listen address %q has no port", addr)
	}
	return int32(n)
}

// wantEveryInterface fails unless each listen flag is given and names
// every interface explicitly: stadion listens on loopback by default, and
// a pod is reached on its own IP (Services, probes, gate devices).
func wantEveryInterface(t *testing.T, where string, inv invocation, flags ...string) {
	t.Helper()
	for _, name := range flags {
		addr, ok := inv.flags[name]
		host, _, err := net.SplitHostPort(addr)
		ip := net.ParseIP(host)
		if !ok || err != nil || ip == nil || !ip.IsUnspecified() {
			t.Errorf("%s: --%s %q (set: %v): want 0.0.0.0:PORT or [::]:PORT, since stadion's default is loopback only", where, name, addr, ok)
		}
	}
}

// containerPort resolves a probe's port (a name or a number) to a number.
func containerPort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

// checkProbes wants readiness on /readyz and liveness on /healthz, both on
// the port the container's --http flag listens on.
func checkProbes(t *testing.T, where string, c corev1.Container, httpPort int32) {
	t.Helper()
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: %s must be an httpGet on %s", where, p.name, p.path)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || containerPort(c, g.Port) != httpPort {
			t.Errorf("%s: %s is GET %s on port %s, want %s on %d", where, p.name, g.Path, g.Port.String(), p.path, httpPort)
		}
	}
}

// checkHardened wants the "restricted" Pod Security Standard's settings,
// no service account token, and resource requests and a memory limit.
func checkHardened(t *testing.T, where string, pod corev1.PodSpec) {
	t.Helper()
	sc := pod.SecurityContext
	switch {
	case sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", where)
	case sc.RunAsUser == nil || *sc.RunAsUser == 0:
		t.Errorf("%s: pod securityContext.runAsUser must be a non-zero uid", where)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s: pod seccompProfile must be RuntimeDefault", where)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false (stadion never calls the Kubernetes API)", where)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: must not share the host's network, PID or IPC namespace", where)
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s: volume %s is a hostPath", where, v.Name)
		}
	}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		checkContainerHardened(t, where+" container "+c.Name, c)
	}
}

func checkContainerHardened(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	switch {
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: readOnlyRootFilesystem must be true", where)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	case sc.Privileged != nil && *sc.Privileged:
		t.Errorf("%s: must not be privileged", where)
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
		t.Errorf("%s: capabilities must drop ALL and add none", where)
	}
	r := c.Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		t.Errorf("%s: needs cpu and memory requests and a memory limit, have %v / %v", where, r.Requests, r.Limits)
	}
	checkPinned(t, where, c.Image)
}

// checkPinned wants an image with a version tag or a digest, never :latest.
func checkPinned(t *testing.T, where, image string) {
	t.Helper()
	if !pinned(image) {
		t.Errorf("%s: image %q is not pinned (use a version tag or a digest, never latest)", where, image)
	}
}

func pinned(image string) bool {
	if _, digest, ok := strings.Cut(image, "@sha256:"); ok {
		return len(digest) == 64
	}
	_, tag, ok := strings.Cut(path.Base(image), ":")
	return ok && tag != "" && tag != "latest"
}

// mountFor returns the container's mount whose directory holds file, and
// the file's path inside it.
func mountFor(c corev1.Container, file string) (corev1.VolumeMount, string, bool) {
	var best corev1.VolumeMount
	found := false
	for _, m := range c.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if strings.HasPrefix(file, dir) && len(m.MountPath) > len(best.MountPath) {
			best, found = m, true
		}
	}
	return best, strings.TrimPrefix(file, strings.TrimSuffix(best.MountPath, "/")+"/"), found
}

func volumeNamed(pod corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

// hasMountAt reports whether the container mounts a volume at dir.
func hasMountAt(c corev1.Container, dir string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(dir) {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}
