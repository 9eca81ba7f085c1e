package capture_test

import (
	"encoding/json"
	"testing"

	"github.com/stadion-dev/stadion/internal/bench/benchtest"
	"github.com/stadion-dev/stadion/internal/bench/capture"
	"github.com/stadion-dev/stadion/internal/proctest"
)

// The capture benchmark, small: one live stream, ticks every second for
// three seconds. The test checks that every figure is there and that no
// tick was missed, never how fast anything was.
func TestBenchCaptureJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a test clip and runs two server processes for ~20 s; the full suite runs it")
	}
	proctest.NeedTool(t, "ffmpeg", "ffmpeg")
	out := benchtest.Run(t, []string{"bench", "capture", "--stadion", proctest.Binary(t),
		"--streams", "1", "--every", "1s", "--duration", "3s", "--warmup", "0s", "--json"})
	var rep capture.CaptureReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Modes) != 2 || rep.Modes[0].Mode != "keyframes-only" || rep.Modes[1].Mode != "full decode" {
		t.Fatalf("modes: %+v", rep.Modes)
	}
	for _, m := range rep.Modes {
		if m.Expected < 2 || m.Captures != m.Expected || m.Missed != 0 || m.P99MS <= 0 || m.CPUPerCapture <= 0 ||
			m.Reference.Captures != 1 || m.Reference.CPUPerCapture <= 0 {
			t.Errorf("%s: %+v", m.Mode, m)
		}
	}
	if len(rep.Checks) != 3 || rep.FullOverKeyframes <= 0 {
		t.Errorf("checks %+v, ratio %v", rep.Checks, rep.FullOverKeyframes)
	}
}
