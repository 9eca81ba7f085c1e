package client

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/stadion-dev/stadion/internal/gate"
)

// VenueLogs reads a venue edge's log lines of the last since over its
// link, giving each to line; with follow it asks again every second until
// ctx ends, telling retry about a failed read and going on.
func (r *Client) VenueLogs(ctx context.Context, venue string, since time.Duration, follow bool, line func(gate.LogLine), retry func(error)) error {
	var after uint64
	for {
		q := url.Values{"since": {since.String()}, "after": {fmt.Sprint(after)}}
		var ans gate.LogsAnswer
		if err := r.Do(ctx, "GET", "/v1/venues/"+url.PathEscape(venue)+"/logs?"+q.Encode(), "", nil, nil, &ans); err != nil {
			if !follow {
				return err
			}
			retry(err)
		}
		for _, l := range ans.Lines {
			line(l)
		}
		if ans.Next < after {
			after = 0 // the edge restarted: its log lines start again at 1
		} else {
			after = ans.Next
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
