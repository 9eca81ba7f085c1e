package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Store-and-forward of scans. The edge appends every decided group of
// scans to its own SCANS stream; its forwarder sends each stored batch to
// the cloud (gate.<venue>.fwd) and acknowledges it locally once the cloud
// answers that the batch is stored in GATE_SCANS_<venue>. The cloud checks
// the batch against the venue whose credentials carried it before storing
// it, and answers only on gate.<venue>.fwdreply.<token>.

// fwdDuplicates is how long the cloud recognises a batch sent again (its
// answer lost in a cut) and stores it once.
const fwdDuplicates = time.Hour

// fwdAnswer is the cloud's answer to one forwarded batch.
type fwdAnswer struct {
	Seq uint64 `json:"seq,omitempty"` // where GATE_SCANS_<venue> stored it
	// Refused says why the batch will never be stored (the edge drops it
	// from its forwarding; it stays in its SCANS).
	Refused string `json:"refused,omitempty"`
	// Error is a failure worth retrying.
	Error string `json:"error,omitempty"`
}

// onForward stores a batch forwarded by venue's edge (cloud side).
func (c *Cloud) onForward(venue string) nats.MsgHandler {
	return func(m *nats.Msg) {
		if !inReplyNamespace(m.Reply, fwdReplyPrefix(venue)) {
			c.refuse(venue, refusedFwdReply, "reply", m.Reply)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		total, err := strconv.ParseUint(m.Header.Get(scansTotalHeader), 10, 64)
		if err != nil {
			c.refuse(venue, refusedBatch, "err", "no scans total")
			total = 0
		}
		raw, _ := json.Marshal(c.storeBatch(ctx, venue, m.Data, total))
		_ = c.nc.Publish(m.Reply, raw)
	}
}

// storeBatch keeps the well-formed scans of venue's batch (refusing the
// others) and stores them, once per batch sent.
func (c *Cloud) storeBatch(ctx context.Context, venue string, data []byte, total uint64) fwdAnswer {
	var b batch
	if err := json.Unmarshal(data, &b); err != nil || len(b.Scans) == 0 || len(b.Scans) > maxForwardBatch {
		c.refuse(venue, refusedBatch, "scans", len(b.Scans), "bytes", len(data))
		return fwdAnswer{Refused: fmt.Sprintf("not a batch of 1-%d scans", maxForwardBatch)}
	}
	gates := c.cfg.Venues[venue].Gates
	kept := b.Scans[:0]
	for _, s := range b.Scans {
		if reason := scanShape(&s, venue, gates); reason != "" {
			c.refuse(venue, refusedScan, "scan", s.ID, "reason", reason)
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 {
		return fwdAnswer{Refused: "no scan of the batch is the venue's own and well formed"}
	}
	b.Scans = kept
	raw, _ := json.Marshal(b)
	sum := sha256.Sum256(data)
	msg := nats.NewMsg(cloudScansSubject(venue))
	msg.Data = raw
	msg.Header.Set(jetstream.MsgIDHeader, hex.EncodeToString(sum[:16]))
	if total > 0 {
		msg.Header.Set(scansTotalHeader, strconv.FormatUint(total, 10))
	}
	ack, err := c.js.PublishMsg(ctx, msg)
	if err != nil {
		c.log.Warn("forwarded scans not stored; the edge retries", "venue", venue, "err", err)
		return fwdAnswer{Error: "the cloud could not store the batch right now"}
	}
	return fwdAnswer{Seq: ack.Sequence}
}

// forward sends the stored scan batches to the cloud, in order, while the
// link is up (edge side).
func (e *Edge) forward(ctx context.Context) {
	for ctx.Err() == nil {
		cons, err := e.js.CreateOrUpdateConsumer(ctx, edgeScansStream, jetstream.ConsumerConfig{
			Durable: forwarder, Description: "forwards scan batches to the cloud",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: fwdWindow,
		})
		if err == nil {
			err = e.forwardFrom(ctx, cons)
		}
		if err != nil && ctx.Err() == nil {
			e.log.Warn("forwarding to the cloud interrupted; retrying", "err", err)
			sleepCtx(ctx, time.Second)
		}
	}
}

// fwdWindow is how many batches the forwarder takes at a time.
const fwdWindow = 16

func (e *Edge) forwardFrom(ctx context.Context, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		if !e.eng.LeafConnected() {
			sleepCtx(ctx, 250*time.Millisecond)
			continue
		}
		b, err := cons.Fetch(fwdWindow, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return err
		}
		failed := false
		for msg := range b.Messages() {
			if failed {
				_ = msg.Nak()
				continue
			}
			if err := e.send(ctx, msg); err != nil {
				e.log.Debug("scan batch not forwarded yet", "err", err)
				failed = true
				_ = msg.Nak()
				continue
			}
			_ = msg.Ack()
		}
		if failed {
			sleepCtx(ctx, 500*time.Millisecond)
		}
	}
	return nil
}

// send forwards one stored batch, with the venue's scans total so far,
// and waits for the cloud's answer.
func (e *Edge) send(ctx context.Context, stored jetstream.Msg) error {
	inbox := fwdReplyPrefix(e.venue) + nuid.Next()
	sub, err := e.nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := nats.NewMsg(fwdSubject(e.venue))
	req.Reply, req.Data = inbox, stored.Data()
	req.Header.Set(scansTotalHeader, stored.Headers().Get(scansTotalHeader))
	if err := e.nc.PublishMsg(req); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg, err := sub.NextMsgWithContext(wctx)
	if err != nil {
		return err
	}
	var ans fwdAnswer
	if err := json.Unmarshal(msg.Data, &ans); err != nil {
		return err
	}
	switch {
	case ans.Refused != "":
		e.log.Error("the cloud refused a scan batch; it stays in this edge's scan log only", "reason", ans.Refused)
		return nil
	case ans.Error != "":
		return errors.New(ans.Error)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
