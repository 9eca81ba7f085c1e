package capture

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var Command = &rig.Command{
	Name:  "capture",
	Short: "tick-to-frame latency and CPU of capture on live HLS streams, keyframes-only vs full decode, against bare ffmpeg",
	Long: `Generates --streams live HLS streams (1280x720 testsrc2 with audio, 25 fps,
one keyframe and one segment a second): a 10 s clip is encoded once, then
one ffmpeg per stream loops it in real time into HLS without re-encoding
(-re -stream_loop -1 -c copy), written to a temp dir served by a loopback
HTTP server in this process. The generators' CPU is measured and printed
apart; re-muxing instead of encoding keeps it small on a 2-core machine.

Then, per mode (keyframes-only, full decode), 'stadion up' runs as a child
process with one job per stream every --every (sizes 1280x720 and 320x180,
jpeg, avoid_blank) for --warmup, then is measured for --duration. From the stored frames: captures,
missed ticks, p50/p99 tick-to-stored-frame latency, and CPU seconds per
capture (stadion and its ffmpeg children, the warm ones still running
included; printed split). The server runs with capture.warm --warm (one
warm ffmpeg per stream by default; --warm 0 measures one ffmpeg per
capture, as before warm capture). The reference runs the same
ffmpeg command line bare, once per stream, and its CPU per capture is
printed beside stadion's with the ratio. Target (p99 <= 3 s, no missed
ticks) is printed, never asserted.`,
	Example: `stadion bench capture
stadion bench capture --streams 5 --duration 30s --json
stadion bench capture --modes keyframes --warm 0`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o captureOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the server under test (default: this program)")
		fs.IntVar(&o.streams, "streams", 20, "live streams, one capture job each")
		fs.DurationVar(&o.every, "every", 10*time.Second, "capture interval of every job")
		fs.DurationVar(&o.duration, "duration", 90*time.Second, "measured time per mode")
		fs.DurationVar(&o.warmup, "warmup", 10*time.Second, "time per mode before the measurement (first captures create the frame buckets)")
		fs.IntVar(&o.concurrency, "concurrency", 0, "capture.concurrency of the server (default: its own default)")
		fs.IntVar(&o.warm, "warm", -1, "capture.warm of the server: warm ffmpeg processes (default: one per stream; 0: a one-shot ffmpeg per capture, as before warm capture)")
		modes := fs.String("modes", "keyframes,full", "modes to run, in order: keyframes (keyframes-only) and full (full decoding)")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench capture takes no arguments, got %q", strings.Join(args, " "))
			}
			if err := o.check(*modes); err != nil {
				return err
			}
			return runBenchCapture(ctx, env, o)
		}
	},
}

type captureOptions struct {
	bin         string
	streams     int
	every       time.Duration
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	warm        int    // -1: one per stream
	keyframes   []bool // the modes, in order: true is keyframes-only
	json        bool
}

func (o *captureOptions) check(modes string) error {
	for _, m := range strings.Split(modes, ",") {
		switch strings.TrimSpace(m) {
		case "keyframes":
			o.keyframes = append(o.keyframes, true)
		case "full":
			o.keyframes = append(o.keyframes, false)
		default:
			return cmdio.UsageErr("--modes: want keyframes and/or full, not %q", m)
		}
	}
	switch {
	case o.streams < 1 || o.streams > 200:
		return cmdio.UsageErr("--streams must be 1-200")
	case o.every < time.Second:
		return cmdio.UsageErr("--every must be at least 1s")
	case o.duration < o.every:
		return cmdio.UsageErr("--duration must be at least --every")
	case o.warmup < 0:
		return cmdio.UsageErr("--warmup must not be negative")
	case o.concurrency < 0 || o.concurrency > 256:
		return cmdio.UsageErr("--concurrency must be 0-256")
	case o.warm < -1 || o.warm > 1024:
		return cmdio.UsageErr("--warm must be 0-1024 (or -1: one per stream)")
	}
	return nil
}

func runBenchCapture(ctx context.Context, env cmdio.Env, o captureOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	work, err := os.MkdirTemp("", "stadion-bench-capture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(env.Stderr, "starting %d live streams...\n", o.streams)
	gen, err := startStreams(ctx, work, o.streams)
	if err != nil {
		return err
	}
	defer gen.stop()
	rep := &captureReport{
		Machine: rig.ThisMachine(),
		Settings: captureSetting{Streams: o.streams, Every: o.every.String(), Duration: o.duration.String(),
			Warmup: o.warmup.String(), Concurrency: o.concurrency, Warm: o.warmProcesses()},
	}
	for _, keyframes := range o.keyframes {
		m, err := benchCaptureMode(ctx, env, o, gen, work, keyframes)
		if err != nil {
			return err
		}
		rep.Modes = append(rep.Modes, m)
	}
	rep.FFmpegFloor = ffmpegFloor(ctx)
	rep.finish()
	if o.json {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	return rep.print(env.Stdout)
}

// warmProcesses is the server's capture.warm.
func (o *captureOptions) warmProcesses() int {
	if o.warm < 0 {
		return o.streams
	}
	return o.warm
}
