package capture

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/capture"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/loop"
)

// benchCaptureMode measures one mode: stadion capturing every stream, then
// the bare ffmpeg reference.
func benchCaptureMode(ctx context.Context, env cmdio.Env, o captureOptions, gen *streams, work string, keyframes bool) (*captureMode, error) {
	m := &captureMode{Mode: map[bool]string{true: "keyframes-only", false: "full decode"}[keyframes]}
	dir := filepath.Join(work, fmt.Sprintf("mode-%v", keyframes))
	cfgPath, err := writeCaptureConfig(dir, o, gen.urls, keyframes)
	if err != nil {
		return nil, err
	}
	srv, err := rig.StartChild(ctx, o.bin, filepath.Join(dir, "data"), "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	defer srv.Stop(10 * time.Second)
	if err := measureCapture(ctx, env, o, srv, gen, m); err != nil {
		return nil, err
	}
	if err := srv.Stop(10 * time.Second); err != nil {
		fmt.Fprintf(env.Stderr, "warning: %v\n", err)
	}
	m.Reference, err = bareFFmpeg(ctx, dir, gen.urls, benchJob("", keyframes))
	return m, err
}

func benchJob(source string, keyframes bool) config.CaptureJob {
	return config.CaptureJob{Source: source, Sizes: []string{"1280x720", "320x180"}, Format: "jpeg",
		KeyframesOnly: keyframes, AvoidBlank: true, Timeout: config.Duration(20 * time.Second)}
}

func writeCaptureConfig(dir string, o captureOptions, urls []string, keyframes bool) (string, error) {
	var b strings.Builder
	b.WriteString("topics:\n  thumbnails: {kind: realtime, retention: 1h}\ncapture:\n")
	if o.concurrency > 0 {
		fmt.Fprintf(&b, "  concurrency: %d\n", o.concurrency)
	}
	fmt.Fprintf(&b, "  warm: %d\n", o.warmProcesses())
	b.WriteString("  jobs:\n")
	for i, u := range urls {
		fmt.Fprintf(&b, "    cam-%02d: {source: %q, every: %s, sizes: [1280x720, 320x180], format: jpeg, keyframes_only: %v, avoid_blank: true}\n",
			i, u, o.every, keyframes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "stadion.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// measureCapture runs one window of --duration and reads the outcome
// from the server's API.
func measureCapture(ctx context.Context, env cmdio.Env, o captureOptions, srv *rig.Child, gen *streams, m *captureMode) error {
	api := &client.Client{Base: srv.Ep.HTTP, Token: srv.AdminKey, HTTP: &http.Client{Timeout: 30 * time.Second}}
	if o.warmup > 0 {
		stop := cmdio.ShowProgress(env.Stderr, "warm-up, "+m.Mode, o.warmup)
		ok := loop.Sleep(ctx, o.warmup)
		stop()
		if !ok {
			return ctx.Err()
		}
	}
	jobs, err := captureJobs(ctx, api)
	if err != nil {
		return err
	}
	t0 := time.Now()
	end := t0.Add(o.duration)
	expected := map[string]int{}
	for _, j := range jobs {
		for at := *j.NextTick; at.Before(end); at = at.Add(o.every) {
			expected[j.Name]++
			m.Expected++
		}
	}
	cpu0, _ := procCPUWithChildren(srv.Cmd.Process.Pid)
	own0, _ := rig.ProcCPU(srv.Cmd.Process.Pid)
	gen0, done0 := gen.cpu(), totalCaptures(jobs)
	stop := cmdio.ShowProgress(env.Stderr, "capture, "+m.Mode, o.duration)
	ok := loop.Sleep(ctx, o.duration)
	stop()
	if !ok {
		return ctx.Err()
	}
	if err := waitTicks(ctx, api, expected, t0, end); err != nil {
		return err
	}
	cpu1, _ := procCPUWithChildren(srv.Cmd.Process.Pid)
	own1, _ := rig.ProcCPU(srv.Cmd.Process.Pid)
	gen1 := gen.cpu()
	if jobs, err = captureJobs(ctx, api); err != nil {
		return err
	}
	m.GeneratorCPUPerSec = (gen1 - gen0).Seconds() / time.Since(t0).Seconds()
	if n := totalCaptures(jobs) - done0; n > 0 {
		m.CPUPerCapture = (cpu1 - cpu0).Seconds() / float64(n)
		m.ServerCPUPerCapture = (own1 - own0).Seconds() / float64(n)
	}
	return collectFrames(ctx, api, jobs, t0, end, m)
}

// captureJobRow's fields the benchmark reads, plus the next tick.
type benchCaptureJob struct {
	client.CaptureJobRow
	NextTick *time.Time `json:"next_tick"`
}

func captureJobs(ctx context.Context, api *client.Client) ([]benchCaptureJob, error) {
	var out struct {
		Jobs []benchCaptureJob `json:"jobs"`
	}
	err := api.Do(ctx, "GET", "/v1/capture/jobs", "", nil, nil, &out)
	return out.Jobs, err
}

func totalCaptures(jobs []benchCaptureJob) uint64 {
	var n uint64
	for _, j := range jobs {
		n += j.Captures + j.Failures
	}
	return n
}

func jobFrames(ctx context.Context, api *client.Client, job string, t0, end time.Time) ([]capture.Frame, error) {
	var out struct {
		Frames []capture.Frame `json:"frames"`
	}
	q := "?limit=1000&since=" + t0.Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	if err := api.Do(ctx, "GET", client.CapturePath(job, "/frames"+q), "", nil, nil, &out); err != nil {
		return nil, err
	}
	in := out.Frames[:0]
	for _, f := range out.Frames {
		if !f.TickAt.Before(t0) && f.TickAt.Before(end) {
			in = append(in, f)
		}
	}
	return in, nil
}

// waitTicks waits until every tick due in the window is captured or
// failed, at most 30 s past its end.
func waitTicks(ctx context.Context, api *client.Client, expected map[string]int, t0, end time.Time) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		jobs, err := captureJobs(ctx, api)
		if err != nil {
			return err
		}
		pending := false
		for _, j := range jobs {
			frames, err := jobFrames(ctx, api, j.Name, t0, end)
			if err != nil {
				return err
			}
			if len(frames)+int(j.Failures) < expected[j.Name] {
				pending = true
				break
			}
		}
		if !pending || !loop.Sleep(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

func collectFrames(ctx context.Context, api *client.Client, jobs []benchCaptureJob, t0, end time.Time, m *captureMode) error {
	var h rig.Histogram
	for _, j := range jobs {
		frames, err := jobFrames(ctx, api, j.Name, t0, end)
		if err != nil {
			return err
		}
		m.Captures += len(frames)
		m.Failures += int(j.Failures)
		if j.LastError != "" && m.LastError == "" {
			m.LastError = j.Name + ": " + j.LastError
		}
		for _, f := range frames {
			h.Record(f.CapturedAt.Sub(f.TickAt))
		}
	}
	m.Missed = max(0, m.Expected-m.Captures)
	m.P50MS, m.P99MS, m.MaxMS = rig.MS(h.Quantile(0.5)), rig.MS(h.Quantile(0.99)), rig.MS(h.Max)
	return nil
}

// bareFFmpeg runs the workers' ffmpeg command line once per stream,
// one at a time, and measures its CPU and wall time per capture.
func bareFFmpeg(ctx context.Context, dir string, urls []string, job config.CaptureJob) (captureRef, error) {
	var ref captureRef
	var cpu, wall time.Duration
	for i, u := range urls {
		out := filepath.Join(dir, fmt.Sprintf("bare-%02d", i))
		if err := os.MkdirAll(out, 0o700); err != nil {
			return ref, err
		}
		job.Source = u
		cmd := exec.CommandContext(ctx, "ffmpeg", capture.FFmpegArgs(&job, out)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return ref, fmt.Errorf("bare ffmpeg on %s: %v\n%s", u, err, tail(stderr.String(), 2000))
		}
		wall += time.Since(start)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		ref.Captures++
	}
	ref.CPUPerCapture = cpu.Seconds() / float64(ref.Captures)
	ref.WallMS = rig.MS(wall) / float64(ref.Captures)
	return ref, nil
}

// ffmpegFloor is the CPU time of an ffmpeg that starts, makes one tiny
// frame and exits: the part of every capture that no option saves.
func ffmpegFloor(ctx context.Context) float64 {
	var total time.Duration
	const runs = 5
	for range runs {
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
			"-i", "nullsrc=s=16x16", "-frames:v", "1", "-f", "null", "-")
		if cmd.Run() != nil {
			return 0
		}
		total += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return total.Seconds() / runs
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// procCPUWithChildren is a process's CPU time plus that of its children:
// those it has waited for (one-shot ffmpeg runs) and those still running
// (warm ffmpeg processes), from /proc. A child counted running at the
// start and waited for at the end is counted once either way. Linux only.
func procCPUWithChildren(pid int) (time.Duration, error) {
	own, err := procCPUAndReaped(pid)
	if err != nil {
		return 0, err
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil || child == pid || procParent(child) != pid {
			continue
		}
		if cpu, err := rig.ProcCPU(child); err == nil {
			own += cpu
		}
	}
	return own, nil
}

// procParent is the parent process ID of pid, or -1.
func procParent(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}

// procCPUAndReaped is a process's CPU time plus that of the children it
// has waited for.
func procCPUAndReaped(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	var f []string
	if i := bytes.LastIndexByte(raw, ')'); i >= 0 {
		f = strings.Fields(string(raw[i+1:]))
	}
	if len(f) < 15 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	var ticks uint64
	for _, s := range f[11:15] { // utime stime cutime cstime
		n, _ := strconv.ParseUint(s, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / rig.UserHZ, nil
}
