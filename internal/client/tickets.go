package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/gate"
)

// issueChunk is how many tickets one request issues.
const issueChunk = 500

// IssueTickets issues reqs in chunks, writes each issued ticket as a JSON
// line to w and, for more than one chunk, shows progress on status.
func (r *Client) IssueTickets(ctx context.Context, w, status io.Writer, reqs []gate.TicketRequest) error {
	var bar *cmdio.Progress
	if len(reqs) > issueChunk {
		bar = cmdio.NewProgress(status, "issuing", len(reqs))
		defer bar.Done()
	}
	enc := json.NewEncoder(w)
	for i := 0; i < len(reqs); i += issueChunk {
		chunk := reqs[i:min(i+issueChunk, len(reqs))]
		body, _ := json.Marshal(map[string]any{"tickets": chunk})
		var out struct {
			Tickets []gate.Issued `json:"tickets"`
		}
		if err := r.Do(ctx, "POST", "/v1/tickets", "application/json", body, nil, &out); err != nil {
			return fmt.Errorf("after %d of %d tickets: %w", i, len(reqs), err)
		}
		for _, t := range out.Tickets {
			if err := enc.Encode(t); err != nil {
				return err
			}
		}
		if bar != nil {
			bar.Set(i + len(chunk))
		}
	}
	return nil
}
