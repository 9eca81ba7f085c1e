package gate

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The edge's mirror of its control stream is durable but, after a link
// cut, the engine may take up to ~30 s to restart it. So on every
// (re)link the edge also asks the cloud directly for the control messages
// after the last one it applied, and applies them at once; the mirror
// stores them when it resumes.

func syncSubject(venue string) string     { return "gate." + venue + ".sync" }
func syncReplyPrefix(venue string) string { return "gate." + venue + ".syncreply." }

// syncRequest asks for control messages after a sequence.
type syncRequest struct {
	After uint64 `json:"after"`
}

// syncAnswer carries them, at most syncPage per answer.
type syncAnswer struct {
	Msgs []ctlMsg `json:"msgs"`
	Last uint64   `json:"last"` // the stream's last sequence
}

type ctlMsg struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Data    []byte `json:"data"`
}

const syncPage = 500

// onSync answers an edge's catch-up request from the venue's control
// stream (cloud side).
func (c *Cloud) onSync(venue string) nats.MsgHandler {
	return func(m *nats.Msg) {
		var req syncRequest
		if json.Unmarshal(m.Data, &req) != nil || m.Reply == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ans, err := c.ctlAfter(ctx, venue, req.After)
		if err != nil {
			c.log.Warn("control catch-up", "venue", venue, "err", err)
			return
		}
		raw, _ := json.Marshal(ans)
		_ = c.nc.Publish(m.Reply, raw)
	}
}

func (c *Cloud) ctlAfter(ctx context.Context, venue string, after uint64) (syncAnswer, error) {
	s, err := c.js.Stream(ctx, ctlStream(venue))
	if err != nil {
		return syncAnswer{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return syncAnswer{}, err
	}
	ans := syncAnswer{Last: info.State.LastSeq}
	for seq := max(after+1, info.State.FirstSeq); seq <= info.State.LastSeq && len(ans.Msgs) < syncPage; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // replaced by a newer message on its subject
		}
		if err != nil {
			return syncAnswer{}, err
		}
		ans.Msgs = append(ans.Msgs, ctlMsg{Seq: seq, Subject: m.Subject, Data: m.Data})
	}
	return ans, nil
}

// catchUp asks the cloud for what it missed, page by page (edge side).
func (e *Edge) catchUp(ctx context.Context) error {
	for {
		after := e.ctl.summary().Applied
		inbox := syncReplyPrefix(e.venue) + nuid.Next()
		sub, err := e.nc.SubscribeSync(inbox)
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(syncRequest{After: after})
		err = e.nc.PublishRequest(syncSubject(e.venue), inbox, raw)
		var msg *nats.Msg
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			msg, err = sub.NextMsgWithContext(wctx)
			cancel()
		}
		_ = sub.Unsubscribe()
		if err != nil {
			return err
		}
		var ans syncAnswer
		if err := json.Unmarshal(msg.Data, &ans); err != nil {
			return err
		}
		for _, m := range ans.Msgs {
			e.ctl.apply(m.Subject, m.Data, m.Seq)
		}
		if len(ans.Msgs) == 0 || e.ctl.summary().Applied >= ans.Last {
			return nil
		}
	}
}

// watchLink catches up every time the link comes (back) up.
func (e *Edge) watchLink(ctx context.Context) {
	up := false
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := e.eng.LeafConnected()
		if now && !up {
			if err := e.catchUp(ctx); err != nil {
				e.log.Warn("control catch-up after relink failed; the mirror will deliver", "err", err)
			} else {
				e.log.Info("cloud link up; control state caught up", "control_seq", e.ctl.summary().Applied)
			}
		}
		up = now
	}
}
