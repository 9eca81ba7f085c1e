package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
)

// The bundled example runs capture: a job added with `stadion capture put`
// on a video served over HTTP is triggered, its frame saved with `capture latest`, shown by
// `capture status`, and announced on the thumbnails topic.
func TestCaptureCommands(t *testing.T) {
	needTool(t, "ffmpeg", "ffmpeg")
	dir := t.TempDir()
	video := filepath.Join(dir, "clip.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", video).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	files := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer files.Close()
	p := startProc(t, filepath.Join(dir, "data"))
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args[:2:2], append([]string{"--server", p.http, "--token", p.admin}, args[2:]...)...)
		if code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}); code != 0 {
			t.Fatalf("stadion %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String()
	}
	cli("capture", "put", "--source", files.URL+"/clip.mp4", "--sizes", "320x180", "sheet-a")
	cli("capture", "trigger", "sheet-a")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(cli("capture", "status", "sheet-a", "--json"), `"last_success": "`) {
		if time.Now().After(deadline) {
			t.Fatalf("no capture:\n%s", cli("capture", "status", "sheet-a"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := cli("capture", "status"); !strings.Contains(out, "sheet-a") || !strings.Contains(out, "LAST SUCCESS") {
		t.Errorf("status table:\n%s", out)
	}
	thumb := filepath.Join(dir, "thumb.jpg")
	cli("capture", "latest", "sheet-a", "-o", thumb)
	raw, _ := os.ReadFile(thumb)
	if img, err := jpeg.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 320 {
		t.Fatalf("latest: %v", err)
	}
	events := p.readAll("thumbnails", p.admin)
	if len(events) != 1 {
		t.Fatalf("%d thumbnail events, want 1", len(events))
	}
	data, _ := json.Marshal(events[0]["data"])
	if !strings.Contains(string(data), `"job":"sheet-a"`) || !strings.Contains(string(data), `"url":"/v1/capture/jobs/sheet-a/frames/`) {
		t.Errorf("thumbnail event: %s", data)
	}
}

// Jobs without ffmpeg stop start-up with an error that says what to do.
func TestCaptureNeedsFFmpeg(t *testing.T) {
	dir := t.TempDir()
	cfg := "capture:\n  ffmpeg: /nonexistent/ffmpeg\n  jobs:\n    a: {source: /dev/null, every: 10s}\n"
	if err := os.WriteFile(filepath.Join(dir, "stadion.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, stadionBinary(t), "up", "--data", filepath.Join(dir, "d"),
		"--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--config", filepath.Join(dir, "stadion.yaml")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "capture.ffmpeg: ffmpeg not found") || !strings.Contains(string(out), "install ffmpeg") {
		t.Errorf("exit %v, output:\n%s", err, out)
	}
}

// Two stadion processes capture from one engine (a third process); the one
// taking a capture is killed with SIGKILL while ffmpeg waits on the source,
// and the other takes the tick over after ack_wait: one frame in the end.
func TestCaptureWorkerKill9(t *testing.T) {
	needTool(t, "ffmpeg", "ffmpeg")
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	var requests atomic.Int32
	hung := make(chan struct{})
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			close(hung)
			<-r.Context().Done() // held until the first worker's ffmpeg dies
			return
		}
		http.ServeFile(w, r, clip)
	}))
	defer src.Close()
	topics := "topics:\n  thumbnails: {kind: realtime}\n"
	engineCfg, workerCfg := filepath.Join(dir, "engine.yaml"), filepath.Join(dir, "worker.yaml")
	capture := "capture:\n  ack_wait: 2s\n  timeout: 60s\n  jobs:\n    cam: {source: " + src.URL + "/clip.mp4, sizes: [160x90]}\n"
	if err := os.WriteFile(engineCfg, []byte(topics), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(workerCfg, []byte(topics+capture), 0o600); err != nil {
		t.Fatal(err)
	}
	engine := startProc(t, filepath.Join(dir, "engine"), "--config", engineCfg)
	natsURL := engineNATS(t, engine)
	a := startProc(t, filepath.Join(dir, "a"), "--config", workerCfg, "--nats-url", natsURL)
	if code := a.request("POST", "/v1/capture/jobs/cam/trigger", a.admin, "", nil); code != http.StatusAccepted {
		t.Fatalf("trigger: %d", code)
	}
	select {
	case <-hung:
	case <-time.After(30 * time.Second):
		t.Fatal("worker a never started the capture")
	}
	b := startProc(t, filepath.Join(dir, "b"), "--config", workerCfg, "--nats-url", natsURL)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	var job struct {
		Captures int `json:"captures"`
		Latest   *struct {
			ID string `json:"id"`
		} `json:"latest"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for job.Captures == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("worker b never took the tick over\n%s", b.stderr)
		}
		time.Sleep(100 * time.Millisecond)
		b.request("GET", "/v1/capture/jobs/cam", b.admin, "", &job)
	}
	var frames struct {
		Frames []json.RawMessage `json:"frames"`
	}
	b.request("GET", "/v1/capture/jobs/cam/frames", b.admin, "", &frames)
	if job.Captures != 1 || len(frames.Frames) != 1 {
		t.Errorf("captures %d, frames %d; want one of each", job.Captures, len(frames.Frames))
	}
}

// engineNATS is a URL of p's embedded engine that authenticates with its
// admin key.
func engineNATS(t *testing.T, p *proc) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data, client.EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ep client.Endpoints
	if err := json.Unmarshal(raw, &ep); err != nil || ep.NATS == "" {
		t.Fatalf("endpoints %s: %v", raw, err)
	}
	return strings.Replace(ep.NATS, "nats://", "nats://"+p.admin+"@", 1)
}
