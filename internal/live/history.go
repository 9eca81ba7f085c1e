package live

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/stadion-dev/stadion/internal/engine"
)

// HistoryPage is a page of a room's kept comments, oldest first.
type HistoryPage struct {
	Room     string            `json:"room"`
	Comments []json.RawMessage `json:"comments"`
	// NextAfter is the id to pass as after= for the comments that follow.
	NextAfter string `json:"next_after,omitempty"`
	// AfterFound is false when after= named a comment no longer kept:
	// the page then starts at the oldest comment kept.
	AfterFound *bool `json:"after_found,omitempty"`
}

// history reads a room's comments newest message first, walking back one
// stored message (a batch of comments) at a time, until it has limit
// comments or reached the comment after.
func (s *Service) history(ctx context.Context, room, after string, limit int) (HistoryPage, error) {
	// Comments stored before the republish (an upgrade less than 24 h
	// ago) are on the legacy subject: the newer of the two is the next.
	subjects := []string{storedSubject(room), legacyCommentsSubject(room)}
	var batches [][][]byte // newest first
	var upTo uint64
	count, found := 0, false
	marker := []byte(`{"id":"` + after + `"`)
	for range s.cfg.Live.History {
		msgs, err := engine.DirectGet(ctx, s.nc, commentsStream, engine.GetRequest{LastOf: subjects, UpToSeq: upTo, Limit: len(subjects)})
		if err != nil {
			return HistoryPage{}, err
		}
		if len(msgs) == 0 {
			break
		}
		slices.SortFunc(msgs, func(a, b engine.StoredMsg) int { return cmp.Compare(b.Seq, a.Seq) })
		lines := bytes.Split(msgs[0].Data, []byte{'\n'})
		if after != "" {
			if i := slices.IndexFunc(lines, func(l []byte) bool { return bytes.HasPrefix(l, marker) }); i >= 0 {
				batches = append(batches, lines[i+1:])
				found = true
				break
			}
		}
		batches = append(batches, lines)
		count += len(lines)
		if (after == "" && count >= limit) || msgs[0].Seq <= 1 {
			break
		}
		upTo = msgs[0].Seq - 1
	}
	var all []json.RawMessage
	for i := len(batches) - 1; i >= 0; i-- {
		for _, l := range batches[i] {
			if len(l) > 0 {
				all = append(all, json.RawMessage(l))
			}
		}
	}
	page := HistoryPage{Room: room}
	if after == "" {
		page.Comments = all[max(0, len(all)-limit):]
	} else {
		page.AfterFound = &found
		page.Comments = all[:min(len(all), limit)]
	}
	if page.Comments == nil {
		page.Comments = []json.RawMessage{}
	}
	if n := len(page.Comments); n > 0 {
		var c struct {
			ID string `json:"id"`
		}
		json.Unmarshal(page.Comments[n-1], &c)
		page.NextAfter = c.ID
	} else {
		page.NextAfter = after
	}
	return page, nil
}
