package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/server"
)

// The attacks of this file are made on a laptop running stadion with its
// defaults: from the network, and by a second process on the same data.

// TestAttackReachesLaptopFromNetwork dials every port a default `stadion
// up` opened from this machine's network address, as another machine on
// the café's Wi-Fi would: every dial is refused, while a client on the
// laptop itself is served. The defaults are checked as the flags declare
// them, and a real process runs on their hosts (with free ports, since
// other tests may hold 8080, 4222 and 1883); when the default ports are
// free, a process with no listener flags at all is attacked too. A venue
// edge on its default host is attacked the same way.
func TestAttackReachesLaptopFromNetwork(t *testing.T) {
	defaults := defaultsDefaultListenFlags(t)
	for name, addr := range defaults {
		if addr != "" && server.ListenScope(addr) != "loopback" {
			t.Errorf("default --%s is %q: not loopback", name, addr)
		}
	}
	outside := defaultsOutsideIP(t)

	t.Run("defaults' hosts", func(t *testing.T) {
		var flags []string
		for _, name := range []string{"up.http", "up.nats", "up.mqtt"} {
			host, _, _ := net.SplitHostPort(defaults[name])
			flags = append(flags, "--"+strings.TrimPrefix(name, "up."), net.JoinHostPort(host, "0"))
		}
		p := startProc(t, t.TempDir(), append(flags, "--config", defaultsConfig)...)
		defaultsAttackListeners(t, p, outside)
	})

	t.Run("no listener flags", func(t *testing.T) {
		for _, name := range []string{"up.http", "up.nats", "up.mqtt"} {
			ln, err := net.Listen("tcp", defaults[name])
			if err != nil {
				t.Skipf("default port %s is taken on this machine: %v", defaults[name], err)
			}
			ln.Close()
		}
		p := defaultsStartBare(t, t.TempDir())
		defaultsAttackListeners(t, p, outside)
	})

	t.Run("edge", func(t *testing.T) {
		// An edge with its default HTTP host: its API is the one listener
		// (its engine only dials out), and it is on loopback.
		dir := t.TempDir()
		cloud := startGateCloud(t, filepath.Join(dir, "cloud"))
		creds := cloud.credsFile(t, "bird-nest", dir)
		host, _, _ := net.SplitHostPort(defaults["edge.http"])
		edge := startEdgeProcArgs(t, filepath.Join(dir, "edge"), "bird-nest", "nats://"+cloud.leaf, creds, "--http", net.JoinHostPort(host, "0"))
		ep := defaultsEndpoints(t, edge)
		kernel := defaultsListeningSockets(t, edge.cmd.Process.Pid)
		if len(kernel) != 1 || len(ep.Bound) != 1 || kernel[0] != ep.Bound["API"] {
			t.Errorf("edge listens on %v (endpoints.json: %v); want its API alone", kernel, ep.Bound)
		}
		for _, addr := range kernel {
			if server.ListenScope(addr) != "loopback" {
				t.Errorf("edge listens on %s: open to the network", addr)
			}
			_, port, _ := net.SplitHostPort(addr)
			if outside == "" {
				continue
			}
			if conn, err := net.DialTimeout("tcp", net.JoinHostPort(outside, port), 2*time.Second); err == nil {
				conn.Close()
				t.Errorf("a dial of the edge's %s:%s from the network was accepted", outside, port)
			}
		}
		if s := edgeStatus(t, edge); s.Venue != "bird-nest" {
			t.Errorf("local edge status: %+v", s)
		}
	})

	t.Run("an explicit open flag is open", func(t *testing.T) {
		// The control: the same attack reaches a listener opened on purpose,
		// so the refusals above are the defaults' doing.
		if outside == "" {
			t.Skip("this machine has no non-loopback address")
		}
		p := startProc(t, t.TempDir(), "--http", ":0")
		ep := defaultsEndpoints(t, p)
		_, port, _ := net.SplitHostPort(ep.Bound["API"])
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(outside, port), 2*time.Second)
		if err != nil {
			t.Fatalf("--http :0 is not reachable from %s: %v", outside, err)
		}
		conn.Close()
		if scope := server.ListenScope(ep.Bound["API"]); scope != "every interface" {
			t.Errorf("--http :0 bound %s, scope %q", ep.Bound["API"], scope)
		}
	})
}

// defaultsConfig opens a topic and live comments: every listener of up.
const defaultsConfig = "testdata/defaults/stadion.yaml"

// defaultsDefaultListenFlags reads the listen flags' defaults of up and
// edge as their flag sets declare them.
func defaultsDefaultListenFlags(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range []*command{upCmd, edgeCmd} {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs)
		for _, name := range []string{"http", "nats", "leaf", "mqtt"} {
			if f := fs.Lookup(name); f != nil {
				out[c.name+"."+name] = f.DefValue
			}
		}
	}
	if out["up.http"] == "" || out["up.mqtt"] == "" || out["up.nats"] == "" || out["edge.http"] == "" {
		t.Fatalf("listen flags missing: %v", out)
	}
	return out
}

// defaultsOutsideIP is an address of this machine that other machines
// reach (not loopback), or "".
func defaultsOutsideIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return ""
}

// defaultsStartBare runs `stadion up` with only --data and --config, so
// every listener has its default address.
func defaultsStartBare(t *testing.T, data string) *proc {
	t.Helper()
	cmd := exec.Command(stadionBinary(t), "up", "--data", data, "--config", defaultsConfig)
	p := &proc{t: t, cmd: cmd, data: data, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = &syncWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	// Another program may take a default port after the check: that is
	// this machine's business, not a finding.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if raw, err := os.ReadFile(filepath.Join(data, client.EndpointsFile)); err == nil && strings.Contains(string(raw), strconv.Itoa(cmd.Process.Pid)) {
			break
		}
		select {
		case <-p.exited:
			if strings.Contains(p.stderr.String(), "address already in use") {
				t.Skipf("a default port was taken before stadion bound it:\n%s", p.stderr)
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.waitReady()
	return p
}

func defaultsEndpoints(t *testing.T, p *proc) client.Endpoints {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data, client.EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ep client.Endpoints
	if err := json.Unmarshal(raw, &ep); err != nil {
		t.Fatal(err)
	}
	return ep
}

// defaultsAttackListeners checks that every listener p bound is on
// loopback, by its endpoints file and by the kernel's socket table, that
// none answers a dial from outside, and that a local client is served.
func defaultsAttackListeners(t *testing.T, p *proc, outside string) {
	t.Helper()
	ep := defaultsEndpoints(t, p)
	for _, name := range []string{"API", "engine", "MQTT"} {
		if ep.Bound[name] == "" {
			t.Errorf("endpoints.json names no bound %s listener: %v", name, ep.Bound)
		}
	}
	for name, addr := range ep.Bound {
		if server.ListenScope(addr) != "loopback" {
			t.Errorf("%s bound %s: open to the network", name, addr)
		}
	}
	kernel := defaultsListeningSockets(t, p.cmd.Process.Pid)
	if len(kernel) < len(ep.Bound) {
		t.Errorf("the kernel shows %d listening sockets of pid %d, endpoints.json %d", len(kernel), p.cmd.Process.Pid, len(ep.Bound))
	}
	for _, addr := range kernel {
		if server.ListenScope(addr) != "loopback" {
			t.Errorf("pid %d listens on %s: open to the network", p.cmd.Process.Pid, addr)
		}
		if outside == "" {
			continue
		}
		_, port, _ := net.SplitHostPort(addr)
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(outside, port), 2*time.Second); err == nil {
			conn.Close()
			t.Errorf("a dial of %s:%s from the network was accepted", outside, port)
		}
	}
	key := p.createKey("timing")
	if code := p.request("POST", "/v1/topics/laps/events", key, `{"athlete":"NOR-1","n":1,"ms":60000}`, nil); code != 202 {
		t.Errorf("local publish: %d", code)
	}
	conn, err := net.DialTimeout("tcp", ep.Bound["MQTT"], 2*time.Second)
	if err != nil {
		t.Fatalf("local MQTT client: %v", err)
	}
	conn.Close()
}

// defaultsListeningSockets lists the addresses pid listens on over TCP,
// from its open sockets (/proc/PID/fd) and the kernel's tables
// (/proc/net/tcp, tcp6).
func defaultsListeningSockets(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("no /proc on this system: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			const listen = "0A"
			if len(f) < 10 || f[3] != listen || !inodes[f[9]] {
				continue
			}
			addr, err := defaultsProcNetAddr(f[1])
			if err != nil {
				t.Fatalf("/proc/net/%s: %v", table, err)
			}
			out = append(out, addr)
		}
	}
	return out
}

// defaultsProcNetAddr decodes a local address of /proc/net/tcp{,6}: the
// IP as 32-bit words in host (little-endian) order, then the port in hex.
func defaultsProcNetAddr(s string) (string, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(ipHex)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad port in %q", s)
	}
	ip := net.IP(raw)
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), nil
}

// TestAttackSecondProcessSharesDataDir starts a second `stadion up`, and
// a `stadion edge`, on the data directory of a running server (and a
// second edge on a running edge's): each exits non-zero naming the
// running process, and the first keeps serving, its store untouched. A
// server killed with SIGKILL leaves no stale lock behind.
func TestAttackSecondProcessSharesDataDir(t *testing.T) {
	dir := t.TempDir()
	cloud := startGateCloud(t, filepath.Join(dir, "cloud"))
	creds := cloud.credsFile(t, "bird-nest", dir)
	edge := startEdgeProc(t, filepath.Join(dir, "edge"), "bird-nest", "nats://"+cloud.leaf, creds)

	bin := stadionBinary(t)
	loop := []string{"--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}
	attacks := []struct {
		name   string
		victim *proc
		args   []string
	}{
		{"up on up's data", cloud.proc, append([]string{"up", "--data", cloud.data, "--config", "testdata/gate/stadion.yaml"}, loop...)},
		{"edge on up's data", cloud.proc, []string{"edge", "--venue", "bird-nest", "--cloud", "nats://" + cloud.leaf, "--creds", creds, "--data", cloud.data, "--http", "127.0.0.1:0"}},
		{"edge on edge's data", edge, []string{"edge", "--venue", "bird-nest", "--cloud", "nats://" + cloud.leaf, "--creds", creds, "--data", edge.data, "--http", "127.0.0.1:0"}},
		{"up on edge's data", edge, append([]string{"up", "--data", edge.data, "--config", "testdata/gate/stadion.yaml"}, loop...)},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, a.args...).CombinedOutput()
			if err == nil {
				t.Fatalf("the second process ran on a data directory in use:\n%s", out)
			}
			pid := strconv.Itoa(a.victim.cmd.Process.Pid)
			if !strings.Contains(string(out), "in use") || !strings.Contains(string(out), "process "+pid) {
				t.Errorf("the refusal does not name process %s:\n%s", pid, out)
			}
			if ep := defaultsEndpoints(t, a.victim); ep.PID != a.victim.cmd.Process.Pid {
				t.Errorf("endpoints.json now names pid %d", ep.PID)
			}
		})
	}

	// The first processes keep serving.
	if s := edgeStatus(t, edge); s.Venue != "bird-nest" {
		t.Errorf("edge status after the attacks: %+v", s)
	}
	if v := cloud.venue(t, "bird-nest"); v.Venue != "bird-nest" {
		t.Errorf("venue status after the attacks: %+v", v)
	}

	// kill -9 leaves no stale lock: the kernel released it with the process.
	cloud.kill9()
	again := startGateCloud(t, cloud.data)
	if again.admin != cloud.admin {
		t.Error("the restarted server has another admin key")
	}
	if v := again.venue(t, "bird-nest"); v.Venue != "bird-nest" {
		t.Errorf("venue status after the restart: %+v", v)
	}
}
