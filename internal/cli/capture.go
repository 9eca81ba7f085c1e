package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var captureCmd = &command{
	name:  "capture",
	short: "frame capture from live video: job status, triggers, runtime jobs, frames",
	long: `Capture jobs take thumbnails of live streams on a schedule (every, cron),
on demand (trigger) and on exchange events (on: topic + filter). Jobs come
from stadion.yaml (capture.jobs) or are added at run time with put.
status shows a job FAILING while its last attempt failed: a live HLS
stream whose playlist ended (#EXT-X-ENDLIST, as when its encoder is
stopped) or stopped changing (3 segment durations, at least 5 s) fails at
its next tick, with the reason under LAST ERROR.
Reading needs the admin key, role capture, or a subscription to the
thumbnails topic; put, delete and trigger need the admin key or role capture.`,
	example: `stadion capture status
stadion capture trigger curling-sheet-a
stadion capture put sheet-b --source http://127.0.0.1:8081/index.m3u8 --every 10s --sizes 1280x720,320x180
stadion capture latest curling-sheet-a -o latest.jpg`,
	sub: []*command{captureStatusCmd, captureTriggerCmd, capturePutCmd, captureDeleteCmd, captureFramesCmd, captureLatestCmd},
}

// remoteCmd is a capture subcommand that only talks to the server.
func remoteCmd(name, short, usage, example string, nargs int, run func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error) *command {
	return &command{name: name, short: short, usage: usage, example: example,
		remote: run, nargs: max(nargs, 0), argsErr: fmt.Sprintf("capture %s takes %s", name, usage)}
}

var captureStatusCmd = remoteCmd("status", "show every job: last success, last error, captures/min, tick-to-frame latency", "[JOB]",
	"stadion capture status\nstadion capture status curling-sheet-a --json", -1, captureStatus)

func captureStatus(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
	if len(args) > 1 {
		return usageErr("capture status takes at most one JOB")
	}
	if len(args) == 1 {
		var one json.RawMessage
		if err := r.Do(ctx, "GET", client.CapturePath(args[0], ""), "", nil, nil, &one); err != nil || asJSON {
			return cmdio.ErrOr(err, cmdio.PrintJSON(env.Stdout, one))
		}
		var row client.CaptureJobRow
		if err := json.Unmarshal(one, &row); err != nil {
			return err
		}
		return printCaptureJobs(env.Stdout, []client.CaptureJobRow{row})
	}
	var raw json.RawMessage
	if err := r.Do(ctx, "GET", "/v1/capture/jobs", "", nil, nil, &raw); err != nil {
		return err
	}
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, raw)
	}
	var list struct {
		Jobs []client.CaptureJobRow `json:"jobs"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	return printCaptureJobs(env.Stdout, list.Jobs)
}

func printCaptureJobs(w io.Writer, jobs []client.CaptureJobRow) error {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "no capture jobs (add one under capture.jobs in stadion.yaml, or with 'stadion capture put')")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tSCHEDULE\tCAPTURES\tFAILED\tPER MIN\tP50\tP99\tLAST SUCCESS\tLAST ERROR")
	for _, j := range jobs {
		sched := orDash(j.Spec.Every + j.Spec.Cron)
		lastOK := "-"
		if j.LastSuccess != nil {
			lastOK = shortTime(*j.LastSuccess)
		}
		lastErr := "-"
		if j.LastErrorAt != nil {
			lastErr = shortTime(*j.LastErrorAt) + " " + cmdio.Truncate(j.LastError, 70)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\n", j.Name, j.State(), sched, j.Captures, j.Failures,
			j.CapturesPerMin, cmdio.FmtMS(j.LatencyP50MS), cmdio.FmtMS(j.LatencyP99MS), lastOK, lastErr)
	}
	return tw.Flush()
}

var captureTriggerCmd = remoteCmd("trigger", "capture a frame of JOB now", "JOB", "stadion capture trigger curling-sheet-a", 1,
	func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		var out struct {
			Job  string `json:"job"`
			Tick string `json:"tick"`
		}
		if err := r.Do(ctx, "POST", client.CapturePath(args[0], "/trigger"), "", nil, nil, &out); err != nil {
			return err
		}
		if asJSON {
			return cmdio.PrintJSON(env.Stdout, out)
		}
		fmt.Fprintf(env.Stdout, "%s: capture %s queued; see 'stadion capture frames %s'\n", out.Job, out.Tick, out.Job)
		return nil
	})

var captureDeleteCmd = remoteCmd("delete", "delete a job added at run time, with its frames", "JOB", "stadion capture delete sheet-b", 1,
	func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
		if err := r.Do(ctx, "DELETE", client.CapturePath(args[0], ""), "", nil, nil, nil); err != nil {
			return err
		}
		return printDone(env, asJSON, map[string]any{"job": args[0], "deleted": true}, "%s: deleted", args[0])
	})

var captureFramesCmd = &command{
	name: "frames", short: "list JOB's stored frames with their URLs", usage: "JOB",
	example: "stadion capture frames curling-sheet-a --since 10m\nstadion capture frames curling-sheet-a --json",
	nargs:   1, argsErr: "capture frames takes one JOB",
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		since := fs.Duration("since", time.Hour, "frames captured within this long")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			q := "?limit=1000&since=" + url.QueryEscape(time.Now().Add(-*since).UTC().Format(time.RFC3339Nano))
			var out json.RawMessage
			if err := r.Do(ctx, "GET", client.CapturePath(args[0], "/frames"+q), "", nil, nil, &out); err != nil || asJSON {
				return cmdio.ErrOr(err, cmdio.PrintJSON(env.Stdout, out))
			}
			return printFrames(env.Stdout, args[0], *since, out)
		}
	},
}

func printFrames(w io.Writer, job string, since time.Duration, raw json.RawMessage) error {
	var out struct {
		Frames []client.CaptureFrame `json:"frames"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	if len(out.Frames) == 0 {
		fmt.Fprintf(w, "%s: no frames in the last %s\n", job, since)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAPTURED\tTRIGGER\tSIZE\tBYTES\tURL")
	for _, f := range out.Frames {
		for _, sz := range f.Sizes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", shortTime(f.CapturedAt), f.Trigger, sz.Size, sz.Bytes, sz.URL)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d frames; 'stadion capture latest %s -o FILE' saves the newest\n", len(out.Frames), job)
	return nil
}

var captureLatestCmd = &command{
	name: "latest", short: "save JOB's newest frame to a file", usage: "JOB -o FILE",
	example: "stadion capture latest curling-sheet-a --size 320x180 -o thumb.jpg",
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		out := fs.String("o", "", "file to write the image to (required)")
		size := fs.String("size", "", "one of the job's sizes (default: its first)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 || *out == "" {
				return usageErr("capture latest takes one JOB and -o FILE")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			return saveLatest(ctx, env, r, args[0], *size, *out)
		}
	},
}

func saveLatest(ctx context.Context, env Env, r *client.Client, job, size, out string) error {
	path := client.CapturePath(job, "/latest")
	if size != "" {
		path += "?size=" + url.QueryEscape(size)
	}
	resp, err := r.Send(ctx, "GET", path, "", nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if err := cmdio.ErrOr(err, f.Close()); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %d bytes (%s, %s) -> %s\n", job, n, resp.Header.Get("Content-Type"),
		strings.TrimSpace(resp.Header.Get("Last-Modified")), out)
	return nil
}
