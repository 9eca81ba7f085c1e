package client

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Tail reads a topic's events for `stadion tail`: Start works out where
// to begin, Replay pages through the stored events, Follow reads the live
// stream. Every event goes to Print as the server sent it.
type Tail struct {
	Client *Client
	Topic  string
	Print  func(json.RawMessage)
}

type eventsPage struct {
	Events       []json.RawMessage `json:"events"`
	NextAfterSeq uint64            `json:"next_after_seq"`
}

// Start works out the sequence to replay after.
func (t *Tail) Start(ctx context.Context, since string, after int64, last int) (uint64, error) {
	if after >= 0 || since != "" {
		return uint64(max(after, 0)), nil
	}
	var info struct {
		LastSeq uint64 `json:"last_seq"`
	}
	if err := t.Client.Do(ctx, "GET", "/v1/topics/"+url.PathEscape(t.Topic), "", nil, nil, &info); err != nil {
		return 0, err
	}
	return info.LastSeq - min(info.LastSeq, uint64(last)), nil
}

// Replay prints the stored events after after (or since since), a page
// at a time, and returns the last sequence printed.
func (t *Tail) Replay(ctx context.Context, after uint64, since string) (uint64, error) {
	for {
		q := url.Values{"limit": {"1000"}}
		if since != "" {
			q.Set("since", since)
			since = ""
		} else {
			q.Set("after_seq", strconv.FormatUint(after, 10))
		}
		var page eventsPage
		if err := t.Client.Do(ctx, "GET", "/v1/topics/"+url.PathEscape(t.Topic)+"/events?"+q.Encode(), "", nil, nil, &page); err != nil {
			return after, err
		}
		for _, ev := range page.Events {
			t.Print(ev)
		}
		if len(page.Events) == 0 {
			return after, nil
		}
		after = page.NextAfterSeq
	}
}

// Follow reads the SSE stream from after, reconnecting with Last-Event-ID
// until ctx ends.
func (t *Tail) Follow(ctx context.Context, after uint64) error {
	for {
		last, err := t.stream(ctx, after)
		after = max(after, last)
		if ctx.Err() != nil {
			return nil
		}
		if _, ok := err.(*APIError); ok {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (t *Tail) stream(ctx context.Context, after uint64) (uint64, error) {
	hdr := http.Header{"Accept": {"text/event-stream"}, "Last-Event-ID": {strconv.FormatUint(after, 10)}}
	resp, err := t.Client.Send(ctx, "GET", "/v1/topics/"+url.PathEscape(t.Topic)+"/stream", "", nil, hdr)
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
			t.Print(json.RawMessage(data))
		}
	}
	return after, sc.Err()
}
