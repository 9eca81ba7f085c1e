package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrNotFound means the stream holds no message on that subject.
var ErrNotFound = errors.New("no message found")

// LeaderGetLast reads the last message of stream on subject from the
// stream's leader. A direct get (and so a KV Get) may be answered by any
// copy of a replicated stream, one that has not applied a write the
// others acknowledged a moment ago, or a restarted node still catching
// up; the leader has every acknowledged write. Use it where a record
// another node just wrote must be seen.
func LeaderGetLast(ctx context.Context, nc *nats.Conn, stream, subject string) (StoredMsg, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
	resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return StoredMsg{}, err
	}
	var out struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &out); err != nil {
		return StoredMsg{}, fmt.Errorf("engine: msg get %s: %w", stream, err)
	}
	switch {
	case out.Error != nil && out.Error.Code == 404:
		return StoredMsg{}, ErrNotFound
	case out.Error != nil:
		return StoredMsg{}, fmt.Errorf("engine: msg get %s: %s", stream, out.Error.Description)
	case out.Message == nil:
		return StoredMsg{}, fmt.Errorf("engine: msg get %s: empty answer", stream)
	}
	return StoredMsg{Seq: out.Message.Seq, Data: out.Message.Data}, nil
}
