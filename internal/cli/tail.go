package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
)

var tailCmd = &command{
	name:  "tail",
	short: "print a topic's events, and follow new ones",
	usage: "TOPIC",
	long: `Replays stored events (from --after-seq, or --since a time or duration ago;
by default the last 10) and, with --follow, keeps printing new events as they
are stored (Server-Sent Events, resumed automatically after a dropped
connection). --json prints each CloudEvent as one JSON line.`,
	example: `stadion tail results --since 1h
stadion tail medals --follow
stadion tail personnel --after-seq 0 --json | jq .data.accreditationId`,
	nargs: 1, argsErr: "tail needs exactly one TOPIC",
	remoteWith: func(fs *flag.FlagSet) remoteRun {
		since := fs.String("since", "", "start this long ago (10m) or at this RFC 3339 time")
		after := fs.Int64("after-seq", -1, "start after this sequence number (0: from the first event)")
		last := fs.Int("n", 10, "with neither --since nor --after-seq: how many of the latest events")
		follow := fs.Bool("follow", false, "keep following new events")
		return func(ctx context.Context, env Env, r *client.Client, asJSON bool, args []string) error {
			t := &client.Tail{Client: r, Topic: args[0], Print: func(ev json.RawMessage) { printEvent(env.Stdout, asJSON, ev) }}
			next, err := t.Start(ctx, *since, *after, *last)
			if err != nil {
				return err
			}
			if next, err = t.Replay(ctx, next, *since); err != nil || !*follow {
				return err
			}
			return t.Follow(ctx, next)
		}
	},
}

// printEvent prints one CloudEvent: as it is with --json, else one line.
func printEvent(out io.Writer, asJSON bool, ev json.RawMessage) {
	if asJSON {
		fmt.Fprintln(out, string(ev))
		return
	}
	var e struct {
		Seq     uint64          `json:"seq"`
		Time    time.Time       `json:"time"`
		Subject string          `json:"subject"`
		Source  string          `json:"source"`
		Data    json.RawMessage `json:"data"`
	}
	if json.Unmarshal(ev, &e) != nil {
		fmt.Fprintln(out, string(ev))
		return
	}
	data := string(e.Data)
	if len(data) > 160 {
		data = data[:157] + "..."
	}
	fmt.Fprintf(out, "#%-6d %s  %-14s %-24s %s\n", e.Seq, shortTime(e.Time), e.Source, e.Subject, data)
}
