package capture

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Two workers (two processes' capture services) run the same scheduled
// job: every tick is captured exactly once, and none is skipped.
func TestTwoWorkersCaptureEachTickOnce(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	video := testVideo(t, t.TempDir(), "clip.mp4", 3)
	yaml := fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  concurrency: 2
  jobs:
    shared:
      source: %s
      every: 1s
      sizes: [160x90]
      keyframes_only: true
`, video)
	a := startWorker(t, url, testConfig(t, yaml))
	b := startWorker(t, url, testConfig(t, yaml))
	c := serveAPI(t, a.svc, "admin")
	eventually(t, 30*time.Second, "six frames", func() bool { return len(c.frames("shared")) >= 6 })
	a.stop()
	b.stop()
	// A third worker without the schedule takes the ticks a and b handed
	// back when they stopped, so that every published tick is accounted for.
	drain := startWorker(t, url, testConfig(t, strings.Replace(yaml, "every: 1s", "", 1)))
	eventually(t, 30*time.Second, "the tick queue to drain", func() bool {
		info, err := drain.svc.ticks.cons.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	frames := c.frames("shared")
	done := a.captured("shared") + b.captured("shared") + drain.captured("shared")
	t.Logf("captures: a %d, b %d, after stop %d", a.captured("shared"), b.captured("shared"), drain.captured("shared"))
	if len(frames) != done {
		t.Errorf("%d frames stored from %d captures: a tick was captured twice", len(frames), done)
	}
	slices.SortFunc(frames, func(x, y Frame) int { return x.TickAt.Compare(y.TickAt) })
	for i := 1; i < len(frames); i++ {
		if gap := frames[i].TickAt.Sub(frames[i-1].TickAt); gap != time.Second {
			t.Errorf("ticks %v and %v are %v apart: a tick was missed or repeated", frames[i-1].TickAt, frames[i].TickAt, gap)
		}
	}
	if st := c.job("shared"); st.Captures != uint64(len(frames)) {
		t.Errorf("status counts %d captures, %d frames stored", st.Captures, len(frames))
	}
}

// A worker that dies in the middle of a capture (its source hangs, then
// the process is killed) leaves the tick to another worker after ack_wait.
func TestKilledWorkerTickIsRetried(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	dir := t.TempDir()
	testVideo(t, dir, "clip.mp4", 3)
	var requests atomic.Int32
	hung := make(chan struct{})
	files := http.FileServer(http.Dir(dir))
	src := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			close(hung)
			<-r.Context().Done() // the first capture hangs until its ffmpeg dies
			return
		}
		files.ServeHTTP(w, r)
	}))
	yaml := fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  ack_wait: 2s
  timeout: 60s
  jobs:
    flaky:
      source: %s/clip.mp4
      sizes: [160x90]
`, src)
	a := startWorker(t, url, testConfig(t, yaml))
	ca := serveAPI(t, a.svc, "admin")
	if resp, raw := ca.do("POST", "/v1/capture/jobs/flaky/trigger", ""); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", resp.StatusCode, raw)
	}
	select {
	case <-hung:
	case <-time.After(30 * time.Second):
		t.Fatal("worker a never started the capture")
	}
	b := startWorker(t, url, testConfig(t, yaml))
	a.crash()
	cb := serveAPI(t, b.svc, "admin")
	eventually(t, 30*time.Second, "worker b to take the tick over", func() bool { return len(cb.frames("flaky")) == 1 })
	if a.captured("flaky") != 0 || b.captured("flaky") != 1 {
		t.Errorf("captures: a %d, b %d; want 0 and 1", a.captured("flaky"), b.captured("flaky"))
	}
}

func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := newLoopbackServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
