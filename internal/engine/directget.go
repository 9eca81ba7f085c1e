package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// StoredMsg is one message read from a stream.
type StoredMsg struct {
	Seq    uint64
	Header nats.Header
	Data   []byte
}

// GetRequest says what DirectGet reads: up to Limit messages from Seq (or
// from Since, when set), only those on Subject when it is set. With
// LastOf, it reads instead the last message of each of those subjects at
// or before UpToSeq (0: the end of the stream).
type GetRequest struct {
	Seq     uint64
	Since   time.Time
	Subject string
	Limit   int
	LastOf  []string
	UpToSeq uint64
}

// DirectGet reads messages of stream with the engine's batched direct
// get: one request, the messages streamed back, an end-of-batch marker.
// No consumer is created, so reads cost the engine nothing once answered.
// The stream needs AllowDirect.
func DirectGet(ctx context.Context, nc *nats.Conn, stream string, q GetRequest) ([]StoredMsg, error) {
	req := map[string]any{"batch": q.Limit, "max_bytes": 8 << 20}
	switch {
	case len(q.LastOf) > 0:
		req["multi_last"] = q.LastOf
		if q.UpToSeq > 0 {
			req["up_to_seq"] = q.UpToSeq
		}
	case !q.Since.IsZero():
		req["start_time"] = q.Since.UTC()
	default:
		req["seq"] = max(q.Seq, 1)
	}
	if q.Subject != "" {
		req["next_by_subj"] = q.Subject
	}
	body, _ := json.Marshal(req)
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, body); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []StoredMsg
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("direct get %s: %w", stream, err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204": // end of batch
			return out, nil
		case "404", "408": // nothing there
			return out, nil
		case "503":
			return nil, fmt.Errorf("direct get %s: no responders (is the stream there?)", stream)
		default:
			return nil, fmt.Errorf("direct get %s: status %s %s", stream, status, m.Header.Get("Description"))
		}
		seq, _ := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		out = append(out, StoredMsg{Seq: seq, Header: m.Header, Data: m.Data})
	}
}
