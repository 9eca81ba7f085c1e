package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"golang.org/x/time/rate"
)

// The edge keeps the control state in its own GATE_STATE stream and
// catches up from the cloud: at every (re)link, whenever the cloud stores
// a control message (it reaches the edge on gate.<venue>.ctl.>, as a
// nudge), and every ctlResync as a safety net. A catch-up asks for the
// control messages after the last one applied; the cloud answers from
// the venue's control stream, only on the venue's own reply namespace.

// ctlResync is how often a linked edge catches up without a nudge;
// ctlRecheck is when it looks again after a nudged catch-up.
const (
	ctlResync  = 30 * time.Second
	ctlRecheck = time.Second
)

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
// stream (cloud side). The request comes from outside (the venue's edge,
// or whoever holds its credentials), so the answer goes only to a reply
// subject in the venue's own namespace, gate.<venue>.syncreply.<token>:
// the cloud's connection may publish anywhere, and must not be lent to
// the edge to do so.
// Each catch-up request reads up to syncPage messages; a venue's edge
// gets syncRate of them a second (a burst of syncBurst pages), far above
// what it needs, and the rest are refused unanswered (the edge retries).
const (
	syncRate  = 20
	syncBurst = 40
)

func (c *Cloud) onSync(venue string) nats.MsgHandler {
	limit := rate.NewLimiter(syncRate, syncBurst)
	return func(m *nats.Msg) {
		if !inReplyNamespace(m.Reply, syncReplyPrefix(venue)) {
			c.refuse(venue, refusedSyncReply, "reply", m.Reply)
			return
		}
		if !limit.Allow() {
			c.m.refused.WithLabelValues(venue, refusedSyncRate).Inc()
			return
		}
		var req syncRequest
		if unmarshalStrict(m.Data, &req) != nil {
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

// catchUp asks the cloud for what it missed, page by page, and stores
// and applies it (edge side).
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
			if err := e.keepCtl(ctx, m); err != nil {
				return err
			}
		}
		if len(ans.Msgs) == 0 || e.ctl.summary().Applied >= ans.Last {
			return nil
		}
	}
}

// keepCtl stores one control message in GATE_STATE (so it survives a
// restart during a cut) and applies it.
func (e *Edge) keepCtl(ctx context.Context, m ctlMsg) error {
	what, ok := strings.CutPrefix(m.Subject, ctlPrefix(e.venue))
	if !ok || what == "" || !e.ctl.newer(m.Subject, m.Seq) {
		return nil
	}
	msg := nats.NewMsg(edgeStatePrefix + what)
	msg.Data = m.Data
	msg.Header.Set(ctlSeqHeader, strconv.FormatUint(m.Seq, 10))
	if _, err := e.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("gate: store control message: %w", err)
	}
	e.ctl.apply(m.Subject, m.Data, m.Seq)
	return nil
}

// nudges subscribes to the control messages the cloud stores for this
// venue; each only signals that a catch-up is due.
func (e *Edge) nudges() (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	sub, err := e.nc.Subscribe(ctlSubjects(e.venue), func(*nats.Msg) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	e.subs = append(e.subs, sub)
	return ch, nil
}

// syncLoop catches up when the link comes (back) up, when nudged, and
// every ctlResync while linked.
func (e *Edge) syncLoop(ctx context.Context, nudge <-chan struct{}) {
	up := false
	var next time.Time // when a catch-up is due while linked
	// A nudge is the control message itself, which can reach the edge
	// before the cloud's control stream has stored it: the catch-up it
	// starts may find nothing new. So a nudge also asks for a second look
	// a moment later, rather than waiting ctlResync for the safety net.
	recheck := false
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-nudge:
			next, recheck = time.Time{}, true
		}
		now := e.eng.LeafConnected()
		if now && (!up || !time.Now().Before(next)) {
			err := e.catchUp(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				e.log.Warn("control catch-up failed; retrying", "err", err)
				next = time.Now().Add(time.Second)
			case err == nil:
				if !up {
					e.log.Info("cloud link up; control state caught up", "control_seq", e.ctl.summary().Applied)
				}
				next = time.Now().Add(ctlResync)
				if recheck {
					next, recheck = time.Now().Add(ctlRecheck), false
				}
			}
		}
		up = now
	}
}
