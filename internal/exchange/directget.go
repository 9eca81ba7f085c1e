package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// storedMsg is one message read from a topic's stream.
type storedMsg struct {
	seq  uint64
	data []byte
}

// getBatch reads up to limit messages of stream from startSeq (or from
// since, when set) with the engine's batched direct get: one request, the
// messages streamed back, an end-of-batch marker. No consumer is created,
// so reads cost the engine nothing once answered.
func getBatch(ctx context.Context, nc *nats.Conn, stream string, startSeq uint64, since time.Time, limit int) ([]storedMsg, error) {
	req := map[string]any{"batch": limit, "max_bytes": 8 << 20}
	if !since.IsZero() {
		req["start_time"] = since.UTC()
	} else {
		req["seq"] = max(startSeq, 1)
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
	var out []storedMsg
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
			return nil, errors.New("direct get: no responders (is the topic's stream there?)")
		default:
			return nil, fmt.Errorf("direct get %s: status %s %s", stream, status, m.Header.Get("Description"))
		}
		seq, _ := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		out = append(out, storedMsg{seq: seq, data: m.Data})
	}
}
