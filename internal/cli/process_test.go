package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// The tests in this file run the real stadion binary as a child process.

// stadionBinary builds cmd/stadion once per test run.
func stadionBinary(t *testing.T) string { return proctest.Binary(t) }

// proc is a running `stadion up`.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	data   string
	http   string
	mqtt   string // the MQTT listener, when live comments are on
	admin  string
	stderr *bytes.Buffer
	// readyWait bounds waitReady (default 30s).
	readyWait time.Duration
	exited    chan struct{} // closed when the process has exited
	err       error         // its exit status, once exited is closed
}

// startUp runs `stadion up` with the process tests' configuration; extra
// flags come last, so they override (another --config, say).
func startUp(t *testing.T, data string, extra ...string) *proc {
	t.Helper()
	return startProc(t, data, append([]string{"--config", "testdata/durable/stadion.yaml"}, extra...)...)
}

// startProc runs `stadion up` on free loopback ports with flags and waits
// until it is ready; the test's cleanup kills it.
func startProc(t *testing.T, data string, flags ...string) *proc {
	t.Helper()
	p := launchProc(t, data, flags...)
	p.waitReady()
	return p
}

// launchProc runs `stadion up` like startProc without waiting for it to be
// ready (cluster nodes wait for each other).
func launchProc(t *testing.T, data string, flags ...string) *proc {
	t.Helper()
	_ = os.Remove(filepath.Join(data, client.EndpointsFile))
	args := append([]string{"up", "--data", data, "--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, flags...)
	cmd := exec.Command(stadionBinary(t), args...)
	p := &proc{t: t, cmd: cmd, data: data, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, &syncWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	return p
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (p *proc) waitReady() {
	wait := p.readyWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if raw, err := os.ReadFile(filepath.Join(p.data, client.EndpointsFile)); err == nil {
			var ep client.Endpoints
			if json.Unmarshal(raw, &ep) == nil && ep.PID == p.cmd.Process.Pid {
				p.http, p.mqtt = ep.HTTP, ep.MQTT
				if resp, err := http.Get(p.http + "/readyz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						key, _ := os.ReadFile(filepath.Join(p.data, "admin.key"))
						p.admin = strings.TrimSpace(string(key))
						return
					}
				}
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("stadion exited before ready: %v\n%s", p.err, p.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("stadion not ready in %s\n%s", wait, p.stderr)
}

func (p *proc) request(method, path, key, body string, out any) int {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.http+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (p *proc) createKey(client string) string {
	var out struct{ Key string }
	if code := p.request("POST", "/v1/clients/"+client+"/keys", p.admin, "", &out); code != 201 {
		p.t.Fatalf("create key for %s: %d", client, code)
	}
	return out.Key
}

// readAll replays a topic from the start.
func (p *proc) readAll(topic, key string) []map[string]any {
	var all []map[string]any
	after := 0.0
	for {
		var page struct {
			Events       []map[string]any `json:"events"`
			NextAfterSeq float64          `json:"next_after_seq"`
		}
		path := fmt.Sprintf("/v1/topics/%s/events?after_seq=%d&limit=1000", topic, int(after))
		if code := p.request("GET", path, key, "", &page); code != 200 {
			p.t.Fatalf("read %s: %d", topic, code)
		}
		if len(page.Events) == 0 {
			return all
		}
		all = append(all, page.Events...)
		after = page.NextAfterSeq
	}
}

// TestKill9KeepsAcknowledgedEvents publishes from concurrent clients,
// kills the server with SIGKILL right after the last acknowledgement and
// restarts it: every acknowledged event is there, in order, once.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	data := t.TempDir()
	p := startUp(t, data)
	timing, screens := p.createKey("timing"), p.createKey("screens")

	const workers, each = 8, 40
	acked := make(chan float64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":%d}`, w, w*each+i, 60000+i)
				var r struct{ Seq float64 }
				if code := p.request("POST", "/v1/topics/laps/events", timing, body, &r); code != 202 {
					t.Errorf("publish: %d", code)
					return
				}
				acked <- r.Seq
			}
		}()
	}
	wg.Wait()
	close(acked)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	p2 := startUp(t, data)
	events := p2.readAll("laps", screens)
	if len(events) != workers*each {
		t.Fatalf("after kill -9: %d events stored, want %d", len(events), workers*each)
	}
	seen := map[float64]bool{}
	last := 0.0
	for _, ev := range events {
		seq := ev["seq"].(float64)
		if seq <= last {
			t.Fatalf("events out of order: seq %v after %v", seq, last)
		}
		last = seq
		n := ev["data"].(map[string]any)["n"].(float64)
		if seen[n] {
			t.Fatalf("event n=%v stored twice", n)
		}
		seen[n] = true
	}
	for seq := range acked {
		if seq < 1 || seq > last {
			t.Fatalf("acknowledged seq %v is not readable after restart", seq)
		}
	}
	// The admin key survives the restart and the key file stays private.
	st, err := os.Stat(filepath.Join(data, "admin.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.key mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if p2.admin != p.admin {
		t.Fatal("admin key changed across restarts")
	}
}

// TestSignalDrainsThenExits sends SIGTERM while a follower holds an SSE
// stream open: the stream ends, the server stops cleanly with exit code 0,
// and the logs never contain a key.
func TestSignalDrainsThenExits(t *testing.T) {
	p := startUp(t, t.TempDir())
	key := p.createKey("timing")
	if code := p.request("POST", "/v1/topics/laps/events", key, `{"athlete":"SWE-1","n":1,"ms":1}`, nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
	req, _ := http.NewRequest("GET", p.http+"/v1/topics/laps/stream?after_seq=0", nil)
	req.Header.Set("Authorization", "Bearer "+p.createKey("screens"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open stream: %v %v", err, resp)
	}
	streamEnded := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, resp.Body); close(streamEnded) }()
	p.request("GET", "/v1/topics", "stk_0000000000000000_notarealkeynotarealkeynotarealkey", "", nil)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30s after SIGTERM")
	}
	<-streamEnded
	logs := p.stderr.String()
	if !strings.Contains(logs, "draining") {
		t.Errorf("no drain in the logs:\n%s", logs)
	}
	for _, secret := range []string{key, p.admin, "notarealkey"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a key appears in the logs")
		}
	}
}

// TestConfigErrorsStopStartup: a bad configuration names the field and
// nothing starts.
func TestConfigErrorsStopStartup(t *testing.T) {
	dir := t.TempDir()
	bad := "topics:\n  roster:\n    kind: sync\n    publishers: [ghost]\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, stadionBinary(t), "up", "--data", filepath.Join(dir, "d"),
		"--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--config", filepath.Join(dir, "bad.yaml")).CombinedOutput()
	if err == nil {
		t.Fatal("stadion up accepted a bad configuration")
	}
	for _, want := range []string{"topics.roster.key: required for sync topics", `topics.roster.publishers[0]: unknown client "ghost"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "d", "jetstream")); err == nil {
		t.Error("the engine started despite the bad configuration")
	}

	// A misspelt key: the file, the line, the section and the nearest
	// valid name, not a Go type.
	typo := "# games\nexchange:\n  max_bdy: 1MiB\n"
	if err := os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.CommandContext(ctx, stadionBinary(t), "up", "--data", filepath.Join(dir, "d"),
		"--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--config", filepath.Join(dir, "typo.yaml")).CombinedOutput()
	want := `typo.yaml:3: unknown field "max_bdy" in exchange; did you mean "max_body"?`
	if err == nil || !strings.Contains(string(out), want) || strings.Contains(string(out), "config.") {
		t.Errorf("stadion up with a misspelt key: %v\n%s\nwant %q", err, out, want)
	}
}
