package capture

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

// TestHealthChecks runs a healthy job and one whose source refuses
// connections: only the second reports failing, and the healthy one
// reports its cadence and tick-to-frame latency.
func TestHealthChecks(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	dir := t.TempDir()
	video := testVideo(t, dir, "clip.mp4", 3)
	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  allow: ["127.0.0.1", "localhost"]
  retries: 1
  backoff: 100ms
  jobs:
    healthy:     {source: %s, every: 1s, sizes: [160x90], keyframes_only: true}
    unreachable: {source: "http://127.0.0.1:1/live/index.m3u8", every: 1s, sizes: [160x90]}
`, video)))
	byKey := map[string]ops.Check{}
	eventually(t, 30*time.Second, "checks of both jobs", func() bool {
		byKey = map[string]ops.Check{}
		for _, c := range w.svc.Checks(context.Background()) {
			byKey[c.Component+" "+c.Name] = c
		}
		_, lat := byKey["capture/healthy tick_to_frame_p95"]
		return byKey["capture/unreachable failing"].Value == 1 && lat
	})
	if c := byKey["capture/healthy failing"]; c.Value != 0 {
		t.Errorf("healthy job failing: %+v", c)
	}
	if c, ok := byKey["capture/healthy since_frame"]; !ok || c.Warn != 3 || c.Crit != 10 {
		t.Errorf("since_frame %+v (%v), want thresholds 3 s and 10 s for a 1 s job", c, ok)
	}
	if c := byKey["capture/unreachable failing"]; c.Detail == "" || c.Site != ops.SiteCloud {
		t.Errorf("failing check not explained: %+v", c)
	}
}
