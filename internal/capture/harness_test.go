package capture

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// The harness runs real parts: an embedded NATS server with JetStream in
// a temp dir, real ffmpeg, sources served over loopback HTTP, and each
// capture worker (a Service) on its own connection, as separate stadion
// processes would be.

func startNATS(t *testing.T) string {
	t.Helper()
	return enginetest.Server(t, enginetest.Sync(false)).ClientURL()
}

func testConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

// worker is one Service on its own engine connection.
type worker struct {
	svc *Service
	nc  *nats.Conn
	reg *prometheus.Registry
}

func startWorker(t *testing.T, url string, cfg *config.Config) *worker {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	reg := prometheus.NewRegistry()
	svc, err := New(Options{Config: cfg, JS: js, Registry: reg, Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := &worker{svc: svc, nc: nc, reg: reg}
	t.Cleanup(func() { w.stop(); nc.Close() })
	return w
}

// stop stops the service; its connection stays open for reading.
func (w *worker) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = w.svc.Stop(ctx)
}

// crash ends the worker the way kill -9 would: its connection drops first,
// so nothing it holds is acknowledged or handed back.
func (w *worker) crash() {
	w.nc.Close()
	w.stop()
}

// captured is how many captures this worker stored.
func (w *worker) captured(job string) int {
	return int(testutil.ToFloat64(w.svc.m.captures.WithLabelValues(job, "ok")))
}

// client calls a worker's HTTP API as the given client.
type client struct {
	t    *testing.T
	base string
}

func serveAPI(t *testing.T, svc *Service, as string) *client {
	mux := api.NewMux()
	auth := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(api.WithPrincipal(r.Context(), api.Principal{Client: as})))
		})
	}
	svc.Routes(mux, auth)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL}
}

func (c *client) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func (c *client) job(name string) JobView {
	c.t.Helper()
	resp, raw := c.do("GET", "/v1/capture/jobs/"+name, "")
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET job %s: %d %s", name, resp.StatusCode, raw)
	}
	var v JobView
	if err := json.Unmarshal(raw, &v); err != nil {
		c.t.Fatal(err)
	}
	return v
}

func (c *client) frames(name string) []Frame {
	c.t.Helper()
	resp, raw := c.do("GET", "/v1/capture/jobs/"+name+"/frames?limit=1000", "")
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET frames %s: %d %s", name, resp.StatusCode, raw)
	}
	var out struct{ Frames []Frame }
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatal(err)
	}
	return out.Frames
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("STADION_CI") != "" {
			t.Fatal("ffmpeg is missing: .ci/run installs the Debian package ffmpeg")
		}
		t.Skip("ffmpeg not installed (apt-get install ffmpeg; CI installs it)")
	}
}

// testVideo writes a few seconds of moving test pattern with audio, one
// keyframe a second, to a file; omitEnd makes it an HLS playlist without
// an end, as a live stream whose encoder died leaves it.
func testVideo(t *testing.T, dir, name string, seconds int) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac"}
	if strings.HasSuffix(name, ".m3u8") {
		args = append(args, "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "omit_endlist")
	}
	if out, err := exec.Command("ffmpeg", append(args, out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return out
}

// liveHLS runs a live encoder (-re) writing HLS into a temp dir served over
// loopback HTTP while it is written, and returns the playlist's URL once
// it lists two segments.
func liveHLS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments",
		filepath.Join(dir, "index.m3u8"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	eventually(t, 20*time.Second, "the live stream's first segments", func() bool {
		raw, _ := os.ReadFile(filepath.Join(dir, "index.m3u8"))
		return strings.Count(string(raw), "#EXTINF") >= 2
	})
	return srv.URL + "/index.m3u8"
}

// serveDir serves a directory over loopback HTTP.
func serveDir(t *testing.T, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// tWriter sends a worker's log to the test's log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newLoopbackServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

func jobSpecEvery(d time.Duration) config.CaptureJob {
	return config.CaptureJob{Every: config.Duration(d)}
}
