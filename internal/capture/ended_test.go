package capture

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEndedStreamIsAnError stops a live encoder the way an operator does
// (kill, so ffmpeg writes #EXT-X-ENDLIST): the job's status turns to an
// error saying the stream ended, instead of capturing the last segments
// successfully forever.
func TestEndedStreamIsAnError(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	dir := t.TempDir()
	enc := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "6", filepath.Join(dir, "index.m3u8"))
	if err := enc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = enc.Wait(); close(exited) }()
	t.Cleanup(func() { _ = enc.Process.Kill(); <-exited })
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	playlist := filepath.Join(dir, "index.m3u8")
	eventually(t, 20*time.Second, "the live stream's first segments", func() bool {
		raw, _ := os.ReadFile(playlist)
		return strings.Count(string(raw), "#EXTINF") >= 2
	})

	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  allow: ["127.0.0.1"]
  retries: 0
  jobs:
    cam: {source: %s/index.m3u8, every: 1s, sizes: [160x90]}
`, srv.URL)))
	c := serveAPI(t, w.svc, "admin")
	eventually(t, 30*time.Second, "a capture of the live stream", func() bool { return c.job("cam").Captures > 0 })

	if err := enc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited
	if raw, _ := os.ReadFile(playlist); !strings.Contains(string(raw), "#EXT-X-ENDLIST") {
		t.Fatalf("ffmpeg did not end its playlist:\n%s", raw)
	}
	eventually(t, 30*time.Second, "the job to report that the stream ended", func() bool {
		v := c.job("cam")
		return strings.Contains(v.LastError, "the stream ended") && v.LastErrorAt != nil &&
			(v.LastSuccess == nil || v.LastErrorAt.After(*v.LastSuccess))
	})
}
