package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

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

// TicketRequests are the tickets `stadion tickets issue` asks for: one per
// JSON line of file ("-": stdin), or count of t valid from..until (RFC
// 3339), seats numbered SEAT-1, SEAT-2, ... when t has a seat.
func TicketRequests(stdin io.Reader, t gate.TicketRequest, from, until, file string, count int) ([]gate.TicketRequest, error) {
	if file != "" {
		return readTicketFile(stdin, file)
	}
	var err error
	if t.ValidFrom, err = time.Parse(time.RFC3339, from); err != nil {
		return nil, cmdio.UsageErr("--from %q: want an RFC 3339 time such as 2026-02-20T18:00:00Z", from)
	}
	if t.ValidUntil, err = time.Parse(time.RFC3339, until); err != nil {
		return nil, cmdio.UsageErr("--until %q: want an RFC 3339 time such as 2026-02-20T23:00:00Z", until)
	}
	if count < 1 || count > 1_000_000 {
		return nil, cmdio.UsageErr("--count must be 1 to 1000000")
	}
	reqs := make([]gate.TicketRequest, count)
	for i := range reqs {
		reqs[i] = t
		if count > 1 && t.Seat != "" {
			reqs[i].Seat = fmt.Sprintf("%s-%d", t.Seat, i+1)
		}
	}
	return reqs, nil
}

func readTicketFile(stdin io.Reader, file string) ([]gate.TicketRequest, error) {
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	var reqs []gate.TicketRequest
	sc := bufio.NewScanner(in)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var t gate.TicketRequest
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", file, line, err)
		}
		reqs = append(reqs, t)
	}
	return reqs, sc.Err()
}
