package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad sources (nothing listening, not video, a live playlist that stopped
// changing) give each job a clear error, and a healthy job beside them
// keeps capturing.
func TestBadSourcesDoNotDisturbHealthyJobs(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	dir := t.TempDir()
	video := testVideo(t, dir, "clip.mp4", 3)
	stalled := t.TempDir()
	testVideo(t, stalled, "index.m3u8", 3) // no #EXT-X-ENDLIST: looks live, never changes
	if err := os.WriteFile(filepath.Join(dir, "page.mp4"), []byte("<html>not a video</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, stale := serveDir(t, dir), serveDir(t, stalled)
	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  retries: 1
  backoff: 100ms
  concurrency: 4
  jobs:
    healthy:      {source: %s, every: 1s, sizes: [160x90], keyframes_only: true}
    unreachable:  {source: "http://127.0.0.1:1/live/index.m3u8", every: 1s, sizes: [160x90]}
    not-video:    {source: %s/page.mp4, every: 1s, sizes: [160x90]}
    stalled:      {source: %s/index.m3u8, every: 1s, sizes: [160x90]}
    missing:      {source: %s/gone/index.m3u8, every: 1s, sizes: [160x90]}
`, video, files, stale, files)))
	c := serveAPI(t, w.svc, "admin")
	want := map[string]string{
		"unreachable": "did not answer (connection refused)",
		"not-video":   "Invalid data found when processing input",
		"stalled":     "the live playlist has not changed",
		"missing":     "answered HTTP 404",
	}
	eventually(t, 30*time.Second, "an error on every bad job", func() bool {
		for job := range want {
			if c.job(job).LastError == "" {
				return false
			}
		}
		return true
	})
	for job, msg := range want {
		if got := c.job(job).LastError; !strings.Contains(got, msg) {
			t.Errorf("%s: last error %q, want it to say %q", job, got, msg)
		}
	}
	before := c.job("healthy").Captures
	eventually(t, 10*time.Second, "the healthy job to keep capturing", func() bool {
		return c.job("healthy").Captures >= before+2
	})
	if v := c.job("healthy"); v.LastError != "" || v.Failures != 0 {
		t.Errorf("healthy job has errors: %q", v.LastError)
	}
}
