package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var capturePutCmd = &command{
	name:  "put",
	short: "add or replace a capture job at run time (every process picks it up)",
	usage: "JOB (--source URL [--every 10s | --cron EXPR] ... | --file job.json)",
	long: `The job is stored in the engine, so every stadion process schedules and
captures it. Jobs of stadion.yaml cannot be replaced here. --file takes the
API's JSON form: {"source": ..., "every": "10s", "sizes": [...], "format":
"jpeg", "keyframes_only": true, "avoid_blank": true, "retention": "24h",
"on": {"topic": "results", "filter": {"/status": "OFFICIAL"}}}.

The source must be an http(s), rtmp(s) or srt URL on a host the server's
capture.allow lists; every request the capture makes (playlists, segments,
keys, redirects) is checked against that list, and a job that reaches
anywhere else fails with "capture: URL is not in capture.allow".`,
	example: `stadion capture put sheet-b --source http://127.0.0.1:8081/index.m3u8 --every 10s --sizes 1280x720,320x180 --keyframes-only --avoid-blank
stadion capture put medal-moment --file medal-moment.json`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		var spec struct {
			Source        string   `json:"source"`
			Every         string   `json:"every,omitempty"`
			Cron          string   `json:"cron,omitempty"`
			Sizes         []string `json:"sizes,omitempty"`
			Format        string   `json:"format,omitempty"`
			KeyframesOnly bool     `json:"keyframes_only"`
			AvoidBlank    bool     `json:"avoid_blank"`
			Retention     string   `json:"retention,omitempty"`
			Timeout       string   `json:"timeout,omitempty"`
		}
		var sizes, file string
		fs.StringVar(&spec.Source, "source", "", "stream URL (HLS, RTMP, SRT, HTTP) on a host in capture.allow")
		fs.StringVar(&spec.Every, "every", "", "capture at every multiple of this interval, e.g. 10s")
		fs.StringVar(&spec.Cron, "cron", "", `5-field cron schedule (UTC), e.g. "*/5 * * * *"`)
		fs.StringVar(&sizes, "sizes", "", "comma-separated WIDTHxHEIGHT (default 1280x720)")
		fs.StringVar(&spec.Format, "format", "", "jpeg, webp or png (default jpeg)")
		fs.BoolVar(&spec.KeyframesOnly, "keyframes-only", false, "decode keyframes only (much cheaper)")
		fs.BoolVar(&spec.AvoidBlank, "avoid-blank", false, "skip black or flat frames")
		fs.StringVar(&spec.Retention, "retention", "", "how long frames are kept (default capture.retention)")
		fs.StringVar(&spec.Timeout, "timeout", "", "bound on one ffmpeg run (default capture.timeout)")
		fs.StringVar(&file, "file", "", "the job as JSON (instead of the flags)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 {
				return usageErr("capture put takes one JOB")
			}
			if sizes != "" {
				spec.Sizes = strings.Split(sizes, ",")
			}
			body, err := json.Marshal(spec)
			if file != "" {
				body, err = os.ReadFile(file)
			}
			if err != nil {
				return err
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			var out json.RawMessage
			if err := r.Do(ctx, "PUT", client.CapturePath(args[0], ""), "application/json", body, nil, &out); err != nil {
				return err
			}
			if rf.json {
				return cmdio.PrintJSON(env.Stdout, out)
			}
			fmt.Fprintf(env.Stdout, "%s: stored; see 'stadion capture status'\n", args[0])
			return nil
		}
	},
}
