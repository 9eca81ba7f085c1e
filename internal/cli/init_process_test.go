package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitThenUp is a new user's first minutes: stadion init writes a
// configuration, the directory is moved elsewhere (schema paths are
// relative to the file), stadion up runs it as is with its banner first on
// screen (the engine's start-up log is DEBUG), and an event is published.
func TestInitThenUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	tmp := t.TempDir()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"init", filepath.Join(tmp, "first")}, Env{Stdout: &out, Stderr: &errOut}); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "Next: stadion up --config") {
		t.Errorf("init printed %q", out.String())
	}
	// A second init into the same directory refuses and says what to do.
	errOut.Reset()
	if code := Main(context.Background(), []string{"init", filepath.Join(tmp, "first")}, Env{Stdout: &out, Stderr: &errOut}); code != 1 || !strings.Contains(errOut.String(), "--force") {
		t.Errorf("second init: exit %d, %q", code, errOut.String())
	}
	moved := filepath.Join(tmp, "elsewhere", "games")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "first"), moved); err != nil {
		t.Fatal(err)
	}

	data := filepath.Join(tmp, "data")
	screen := &syncWriter{w: &bytes.Buffer{}}
	cmd := exec.Command(stadionBinary(t), "up", "--config", filepath.Join(moved, "stadion.yaml"), "--data", data,
		"--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = screen, screen
	p := &proc{t: t, cmd: cmd, data: data, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	p.waitReady()

	body, err := os.ReadFile(filepath.Join(moved, "examples", "weather.json")) // written by init
	if err != nil {
		t.Fatal(err)
	}
	var receipt struct{ Seq uint64 }
	if code := p.request("POST", "/v1/topics/weather/events", p.admin, string(body), &receipt); code != 202 || receipt.Seq == 0 {
		t.Fatalf("publish: %d %+v", code, receipt)
	}

	// The API's description and index are readable without a key and
	// name nothing of the running configuration.
	for _, path := range []string{"/v1", "/v1/openapi.json"} {
		resp, err := http.Get(p.http + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s without a key: %d", path, resp.StatusCode)
		}
		for _, name := range []string{"bird-nest", "arrivals-db", "curling", "core-app", "personnel"} {
			if strings.Contains(string(raw), name) {
				t.Errorf("GET %s without a key names %q of the configuration", path, name)
			}
		}
	}
	if resp, err := http.Get(p.http + "/v1/topics"); err != nil || resp.StatusCode != 401 {
		t.Errorf("GET /v1/topics without a key: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	screen.mu.Lock()
	got := screen.w.(*bytes.Buffer).String()
	screen.mu.Unlock()
	if !strings.HasPrefix(got, "stadion is up") {
		t.Errorf("the banner is not the first thing on screen:\n%s", got)
	}
	for _, noise := range []string{"Starting nats-server", "level=INFO msg=\"exchange ready\"", "_ ___ _____"} {
		if strings.Contains(got, noise) {
			t.Errorf("start-up log %q shown at the default level:\n%s", noise, got)
		}
	}
}
