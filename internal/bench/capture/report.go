package capture

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

type captureReport struct {
	Machine  rig.Machine    `json:"machine"`
	Settings captureSetting `json:"settings"`
	Modes    []*captureMode `json:"modes"`
	// FullOverKeyframes is full decoding's CPU per capture over
	// keyframes-only's.
	FullOverKeyframes float64 `json:"full_over_keyframes_cpu"`
	// FFmpegFloor is the CPU seconds of an ffmpeg run that decodes
	// nothing: process start and library loading.
	FFmpegFloor float64     `json:"ffmpeg_floor_cpu_s"`
	Checks      []rig.Check `json:"checks"`
}

type captureSetting struct {
	Streams     int    `json:"streams"`
	Every       string `json:"every"`
	Duration    string `json:"duration"`
	Warmup      string `json:"warmup"`
	Concurrency int    `json:"concurrency,omitempty"`
	Warm        int    `json:"warm"` // capture.warm of the server
}

// captureMode is one mode's figures.
type captureMode struct {
	Mode                string     `json:"mode"`
	Expected            int        `json:"expected_ticks"`
	Captures            int        `json:"captures"`
	Missed              int        `json:"missed"`
	Failures            int        `json:"failures"`
	LastError           string     `json:"last_error,omitempty"`
	P50MS               float64    `json:"p50_ms"`
	P99MS               float64    `json:"p99_ms"`
	MaxMS               float64    `json:"max_ms"`
	CPUPerCapture       float64    `json:"cpu_s_per_capture"`
	ServerCPUPerCapture float64    `json:"server_cpu_s_per_capture"` // of CPUPerCapture: stadion itself, not its ffmpeg children
	GeneratorCPUPerSec  float64    `json:"generator_cpu_s_per_s"`
	Reference           captureRef `json:"bare_ffmpeg"`
}

// captureRef is the bare ffmpeg reference of a mode.
type captureRef struct {
	Captures      int     `json:"captures"`
	CPUPerCapture float64 `json:"cpu_s_per_capture"`
	WallMS        float64 `json:"wall_ms_per_capture"`
}

func (r *captureReport) finish() {
	k, f := r.mode("keyframes-only"), r.mode("full decode")
	if k != nil && f != nil && k.CPUPerCapture > 0 {
		r.FullOverKeyframes = f.CPUPerCapture / k.CPUPerCapture
	}
	if k == nil {
		k = r.Modes[0]
	}
	note := ""
	if r.Settings.Streams != 20 || r.Settings.Every != "10s" {
		note = "target set for 20 streams every 10s"
	}
	missedNote := note
	if k.LastError != "" {
		missedNote = rig.Join(note, "last error "+k.LastError)
	}
	r.Checks = []rig.Check{
		rig.NewCheck(k.Mode+" p99 tick-to-frame", k.P99MS/1000, "s", 3, true, note),
		{Name: k.Mode + " missed ticks", Value: float64(k.Missed), Target: 0, AtMost: true,
			Status: map[bool]string{true: "ok", false: "MISSED"}[k.Missed == 0], Note: missedNote},
		rig.NewCheck("full/keyframes-only CPU ratio", r.FullOverKeyframes, "x", 2, false, "expected several times"),
	}
}

func (r *captureReport) mode(name string) *captureMode {
	for _, m := range r.Modes {
		if m.Mode == name {
			return m
		}
	}
	return nil
}

func (r *captureReport) print(w io.Writer) error {
	fmt.Fprintf(w, "stadion bench capture: %d live HLS streams (1280x720 25 fps, 1 s segments), every %s, %s per mode; %d CPUs\n\n",
		r.Settings.Streams, r.Settings.Every, r.Settings.Duration, r.Machine.CPUs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tticks\tcaptured\tmissed\tfailed\tp50\tp99\tmax\tCPU s/capture\tbare ffmpeg CPU s/capture\tstadion/bare\tgenerator CPU s/s\t")
	for _, m := range r.Modes {
		ratio := "-"
		if m.Reference.CPUPerCapture > 0 {
			ratio = fmt.Sprintf("%.2fx", m.CPUPerCapture/m.Reference.CPUPerCapture)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.3f\t%.3f\t%s\t%.2f\t\n", m.Mode, m.Expected, m.Captures, m.Missed, m.Failures,
			cmdio.FmtMS(m.P50MS), cmdio.FmtMS(m.P99MS), cmdio.FmtMS(m.MaxMS), m.CPUPerCapture, m.Reference.CPUPerCapture, ratio, m.GeneratorCPUPerSec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range r.Modes {
		fmt.Fprintf(w, "\n%s CPU s/capture: stadion %.3f + its ffmpeg processes %.3f", m.Mode, m.ServerCPUPerCapture, m.CPUPerCapture-m.ServerCPUPerCapture)
	}
	fmt.Fprintf(w, "\n\nfull decode / keyframes-only CPU per capture: %.1fx\n", r.FullOverKeyframes)
	fmt.Fprintf(w, "ffmpeg that starts and decodes nothing: %.3f CPU s (part of every capture)\n\n", r.FFmpegFloor)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tvalue\tgoal\tverdict")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", c.Name, c.Shown(), c.Op(), c.Format(c.Target), c.Verdict())
	}
	return tw.Flush()
}
