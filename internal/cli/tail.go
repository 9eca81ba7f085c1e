package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		since := fs.String("since", "", "start this long ago (10m) or at this RFC 3339 time")
		after := fs.Int64("after-seq", -1, "start after this sequence number (0: from the first event)")
		last := fs.Int("n", 10, "with neither --since nor --after-seq: how many of the latest events")
		follow := fs.Bool("follow", false, "keep following new events")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) != 1 {
				return usageErr("tail needs exactly one TOPIC")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			t := &tailer{r: r, topic: args[0], out: env.Stdout, json: rf.json}
			next, err := t.start(ctx, *since, *after, *last)
			if err != nil {
				return err
			}
			if next, err = t.replay(ctx, next, *since); err != nil || !*follow {
				return err
			}
			return t.follow(ctx, next)
		}
	},
}

type tailer struct {
	r     *client.Client
	topic string
	out   io.Writer
	json  bool
}

type eventsPage struct {
	Events       []json.RawMessage `json:"events"`
	NextAfterSeq uint64            `json:"next_after_seq"`
}

// start works out the sequence to replay after.
func (t *tailer) start(ctx context.Context, since string, after int64, last int) (uint64, error) {
	if after >= 0 || since != "" {
		return uint64(max(after, 0)), nil
	}
	var info struct {
		LastSeq uint64 `json:"last_seq"`
	}
	if err := t.r.Do(ctx, "GET", "/v1/topics/"+url.PathEscape(t.topic), "", nil, nil, &info); err != nil {
		return 0, err
	}
	return info.LastSeq - min(info.LastSeq, uint64(last)), nil
}

func (t *tailer) replay(ctx context.Context, after uint64, since string) (uint64, error) {
	for {
		q := url.Values{"limit": {"1000"}}
		if since != "" {
			q.Set("since", since)
			since = ""
		} else {
			q.Set("after_seq", strconv.FormatUint(after, 10))
		}
		var page eventsPage
		if err := t.r.Do(ctx, "GET", "/v1/topics/"+url.PathEscape(t.topic)+"/events?"+q.Encode(), "", nil, nil, &page); err != nil {
			return after, err
		}
		for _, ev := range page.Events {
			t.print(ev)
		}
		if len(page.Events) == 0 {
			return after, nil
		}
		after = page.NextAfterSeq
	}
}

// follow reads the SSE stream from after, reconnecting with Last-Event-ID
// until ctx ends.
func (t *tailer) follow(ctx context.Context, after uint64) error {
	for {
		last, err := t.stream(ctx, after)
		after = max(after, last)
		if ctx.Err() != nil {
			return nil
		}
		if _, ok := err.(*client.APIError); ok {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (t *tailer) stream(ctx context.Context, after uint64) (uint64, error) {
	hdr := http.Header{"Accept": {"text/event-stream"}, "Last-Event-ID": {strconv.FormatUint(after, 10)}}
	resp, err := t.r.Send(ctx, "GET", "/v1/topics/"+url.PathEscape(t.topic)+"/stream", "", nil, hdr)
	if err != nil {
		return after, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			after, _ = strconv.ParseUint(id, 10, 64)
		} else if data, ok := strings.CutPrefix(line, "data: "); ok {
			t.print(json.RawMessage(data))
		}
	}
	return after, sc.Err()
}

func (t *tailer) print(ev json.RawMessage) {
	if t.json {
		fmt.Fprintln(t.out, string(ev))
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
		fmt.Fprintln(t.out, string(ev))
		return
	}
	data := string(e.Data)
	if len(data) > 160 {
		data = data[:157] + "..."
	}
	fmt.Fprintf(t.out, "#%-6d %s  %-14s %-24s %s\n", e.Seq, shortTime(e.Time), e.Source, e.Subject, data)
}
