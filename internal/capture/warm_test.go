package capture

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// warmPIDs is the process IDs of the running warm ffmpegs.
func warmPIDs(svc *Service) map[string]int {
	svc.warm.mu.Lock()
	defer svc.warm.mu.Unlock()
	pids := map[string]int{}
	for name, w := range svc.warm.procs {
		select {
		case <-w.done:
		default:
			pids[name] = w.cmd.Process.Pid
		}
	}
	return pids
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// A scheduled job's ticks come from one long-lived ffmpeg: frames at
// distinct stream times in every size, one process started, and it is
// gone when the service stops. capture.warm bounds the processes: of two
// jobs, one is captured warm, the other by one-shot ffmpeg runs.
func TestWarmCaptureOneProcessPerJob(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	src := liveHLS(t)
	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  warm: 1
  jobs:
    cam-a: {source: %s, every: 2s, sizes: [320x180, 160x90], keyframes_only: true}
    cam-b: {source: %s, every: 2s, sizes: [320x180, 160x90], keyframes_only: true}
`, src, src)))
	c := serveAPI(t, w.svc, "admin")
	m := w.svc.m
	eventually(t, 90*time.Second, "three warm frames", func() bool { return testutil.ToFloat64(m.warmFrames) >= 3 })
	pids := warmPIDs(w.svc)
	if len(pids) != 1 {
		t.Fatalf("warm processes: %v, want one (capture.warm 1)", pids)
	}
	warm, cold := "cam-a", "cam-b"
	if pids[warm] == 0 {
		warm, cold = cold, warm
	}
	seen := map[float64]bool{}
	for _, f := range c.frames(warm) {
		if f.StreamTime == nil || len(f.Sizes) != 2 {
			t.Fatalf("frame %s: stream time %v, %d sizes", f.ID, f.StreamTime, len(f.Sizes))
		}
		if seen[*f.StreamTime] {
			t.Errorf("two ticks took the frame at %v", *f.StreamTime)
		}
		seen[*f.StreamTime] = true
	}
	if n := testutil.ToFloat64(m.warmStarts.WithLabelValues("ok")); n != 1 {
		t.Errorf("%v warm processes started for one job, want 1", n)
	}
	if n := testutil.ToFloat64(m.warmProcs); n != 1 {
		t.Errorf("warm processes gauge %v with capture.warm 1", n)
	}
	eventually(t, 60*time.Second, "the other job captured without a warm process", func() bool {
		return w.captured(cold) >= 1 && testutil.ToFloat64(m.warmFull) >= 1
	})
	w.stop()
	if alive(pids[warm]) {
		t.Errorf("the warm ffmpeg (pid %d) outlived the service", pids[warm])
	}
}

// A warm ffmpeg that dies is replaced after a backoff; ticks meanwhile
// are captured by one-shot runs, so none is lost.
func TestWarmCaptureRestartsAfterKill(t *testing.T) {
	needFFmpeg(t)
	url := startNATS(t)
	src := liveHLS(t)
	w := startWorker(t, url, testConfig(t, fmt.Sprintf(`
capture:
  jobs:
    cam:
      source: %s
      every: 2s
      sizes: [160x90]
      keyframes_only: true
`, src)))
	m := w.svc.m
	eventually(t, 90*time.Second, "a warm frame", func() bool { return testutil.ToFloat64(m.warmFrames) >= 1 })
	first := warmPIDs(w.svc)["cam"]
	if first == 0 {
		t.Fatal("no warm process")
	}
	before := w.captured("cam")
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "a new warm process and frames from it", func() bool {
		pid := warmPIDs(w.svc)["cam"]
		return pid != 0 && pid != first && testutil.ToFloat64(m.warmStarts.WithLabelValues("ok")) >= 2
	})
	frames := testutil.ToFloat64(m.warmFrames)
	eventually(t, 90*time.Second, "a warm frame from the new process", func() bool { return testutil.ToFloat64(m.warmFrames) > frames })
	if testutil.ToFloat64(m.warmExits) < 1 {
		t.Error("the killed process was not counted as a failure")
	}
	if w.captured("cam") <= before {
		t.Error("no capture after the kill")
	}
	if n := testutil.ToFloat64(m.captures.WithLabelValues("cam", "error")); n != 0 {
		t.Errorf("%v ticks failed around the kill; the one-shot path should have taken them", n)
	}
}
