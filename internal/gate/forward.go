package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/loop"
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

// fwdInFlight bounds the batches of one venue being stored at once: the
// edge sends up to fwdWindow without waiting, the cloud writes them in
// order without waiting for each fsync, and answers as each is acknowledged.
const fwdInFlight = 16

// onForward stores the batches forwarded by venue's edge (cloud side).
func (c *Cloud) onForward(venue string) nats.MsgHandler {
	slots := make(chan struct{}, fwdInFlight)
	return func(m *nats.Msg) {
		if !inReplyNamespace(m.Reply, fwdReplyPrefix(venue)) {
			c.refuse(venue, refusedFwdReply, "reply", m.Reply)
			return
		}
		total, err := strconv.ParseUint(m.Header.Get(scansTotalHeader), 10, 64)
		if err != nil {
			c.refuse(venue, refusedBatch, "err", "no scans total")
			total = 0
		}
		msg, refused := c.checkBatch(venue, m.Data, total, m.Header.Get(latencyHeader))
		if refused != nil {
			c.answer(m.Reply, *refused)
			return
		}
		slots <- struct{}{}
		f, err := c.js.PublishMsgAsync(msg)
		if err != nil {
			<-slots
			c.answer(m.Reply, c.notStored(venue, err))
			return
		}
		c.wg.Go(func() {
			defer func() { <-slots }()
			select {
			case ack := <-f.Ok():
				c.answer(m.Reply, fwdAnswer{Seq: ack.Sequence})
			case err := <-f.Err():
				c.answer(m.Reply, c.notStored(venue, err))
			case <-time.After(10 * time.Second):
				c.answer(m.Reply, c.notStored(venue, errors.New("no acknowledgement in 10s")))
			}
		})
	}
}

func (c *Cloud) answer(reply string, a fwdAnswer) {
	raw, _ := json.Marshal(a)
	_ = c.nc.Publish(reply, raw)
}

func (c *Cloud) notStored(venue string, err error) fwdAnswer {
	c.log.Warn("forwarded scans not stored; the edge retries", "venue", venue, "err", err)
	return fwdAnswer{Error: "the cloud could not store the batch right now"}
}

// checkBatch keeps the well-formed scans of venue's batch (refusing the
// others) and makes the message that stores them, once per batch sent
// (its dedupe id is a hash of the batch as sent).
func (c *Cloud) checkBatch(venue string, data []byte, total uint64, latency string) (*nats.Msg, *fwdAnswer) {
	var b batch
	if err := unmarshalStrict(data, &b); err != nil || len(b.Scans) == 0 || len(b.Scans) > maxForwardBatch {
		c.refuse(venue, refusedBatch, "scans", len(b.Scans), "bytes", len(data))
		return nil, &fwdAnswer{Refused: fmt.Sprintf("not a batch of 1-%d scans", maxForwardBatch)}
	}
	kept := b.Scans[:0]
	for _, s := range b.Scans {
		if reason := scanShape(&s, venue); reason != "" {
			c.refuse(venue, refusedScan, "scan", s.ID, "reason", reason)
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 {
		return nil, &fwdAnswer{Refused: "no scan of the batch is the venue's own and well formed"}
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
	if _, ok := parseLatency(latency, len(kept)); ok {
		msg.Header.Set(latencyHeader, latency)
	}
	return msg, nil
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
			loop.Sleep(ctx, time.Second)
		}
	}
}

// fwdWindow is how many batches the forwarder takes at a time.
const fwdWindow = 16

func (e *Edge) forwardFrom(ctx context.Context, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		if !e.eng.LeafConnected() {
			loop.Sleep(ctx, 250*time.Millisecond)
			continue
		}
		b, err := cons.Fetch(fwdWindow, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return err
		}
		var msgs []jetstream.Msg
		for msg := range b.Messages() {
			msgs = append(msgs, msg)
		}
		if !e.sendAll(ctx, msgs) {
			loop.Sleep(ctx, 500*time.Millisecond)
		}
	}
	return nil
}

// sendAll forwards stored batches without waiting between them, then
// acknowledges them in order as the cloud answers; from the first that
// failed on, they are sent again later (the cloud stores a batch sent
// twice once). It reports whether all were stored.
func (e *Edge) sendAll(ctx context.Context, msgs []jetstream.Msg) bool {
	calls := make([]chan []byte, len(msgs))
	tokens := make([]string, len(msgs))
	defer func() {
		for _, token := range tokens {
			e.answers.forget(token)
		}
	}()
	for i, msg := range msgs {
		token, ch, err := e.send(msg)
		if err != nil {
			break
		}
		tokens[i], calls[i] = token, ch
	}
	ok := true
	for i, msg := range msgs {
		if ok && calls[i] != nil {
			if err := e.await(ctx, calls[i]); err != nil {
				e.log.Debug("scan batch not forwarded yet", "err", err)
				ok = false
			}
		} else {
			ok = false
		}
		if ok {
			_ = msg.Ack()
			if meta, err := msg.Metadata(); err == nil {
				e.led.lat.forget(meta.Sequence.Stream)
			}
		} else {
			_ = msg.Nak()
		}
	}
	return ok
}

// send forwards one stored batch, with the venue's scans total so far; it
// returns the token its answer comes back under and where it arrives.
func (e *Edge) send(stored jetstream.Msg) (string, chan []byte, error) {
	token, ch := e.answers.expect()
	req := nats.NewMsg(fwdSubject(e.venue))
	req.Reply, req.Data = fwdReplyPrefix(e.venue)+token, stored.Data()
	req.Header.Set(scansTotalHeader, stored.Headers().Get(scansTotalHeader))
	if meta, err := stored.Metadata(); err == nil {
		if h := e.led.lat.header(meta.Sequence.Stream, time.Second); h != "" {
			req.Header.Set(latencyHeader, h)
		}
	}
	if err := e.nc.PublishMsg(req); err != nil {
		e.answers.forget(token)
		return "", nil, err
	}
	return token, ch, nil
}

// await waits for the cloud's answer to one forwarded batch.
func (e *Edge) await(ctx context.Context, ch chan []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var raw []byte
	select {
	case raw = <-ch:
	case <-wctx.Done():
		return wctx.Err()
	}
	var ans fwdAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
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

// answerMux routes the cloud's answers to forwarded batches, which all
// arrive on one subscription to gate.<venue>.fwdreply.* held for the
// edge's life, to their waiting senders.
type answerMux struct {
	prefix  string
	mu      sync.Mutex
	waiting map[string]chan []byte
}

func newAnswerMux(prefix string) *answerMux {
	return &answerMux{prefix: prefix, waiting: map[string]chan []byte{}}
}

func (a *answerMux) subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	return nc.Subscribe(a.prefix+"*", func(m *nats.Msg) {
		token := strings.TrimPrefix(m.Subject, a.prefix)
		a.mu.Lock()
		ch := a.waiting[token]
		delete(a.waiting, token)
		a.mu.Unlock()
		if ch != nil {
			ch <- m.Data
		}
	})
}

func (a *answerMux) expect() (string, chan []byte) {
	token, ch := nuid.Next(), make(chan []byte, 1)
	a.mu.Lock()
	a.waiting[token] = ch
	a.mu.Unlock()
	return token, ch
}

func (a *answerMux) forget(token string) {
	a.mu.Lock()
	delete(a.waiting, token)
	a.mu.Unlock()
}
