package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// Receipt is the answer to a stored (or deduplicated) event.
type Receipt struct {
	ID        string `json:"id"`
	Topic     string `json:"topic"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// outgoing is a validated event ready to be written.
type outgoing struct {
	subject string
	msgID   string // Nats-Msg-Id for deduplication, or ""
	id      string // the envelope's id
	body    []byte // the stored envelope
}

func (x *Exchange) handlePublish(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	t, err := x.lookup(r)
	if err != nil {
		x.m.rejected.WithLabelValues("unknown", reasonNotFound).Inc()
		return err
	}
	receipts, batch, err := x.publishRequest(r, t)
	if err != nil {
		x.m.rejected.WithLabelValues(t.name, rejectReason(err)).Inc()
		return err
	}
	x.m.latency.WithLabelValues(t.name).Observe(time.Since(start).Seconds())
	if batch {
		api.WriteJSON(w, http.StatusAccepted, receipts)
	} else {
		api.WriteJSON(w, http.StatusAccepted, receipts[0])
	}
	return nil
}

func (x *Exchange) publishRequest(r *http.Request, t *topic) ([]Receipt, bool, error) {
	p, _ := api.PrincipalFrom(r.Context())
	if !t.cfg.CanPublish(p.Client) {
		return nil, false, api.Forbidden(fmt.Sprintf("client %q may not publish to topic %q", p.Client, t.name))
	}
	mt := api.MediaType(r.Header.Get("Content-Type"))
	if mt != ctJSON && mt != ctCloudEvent && mt != ctCloudEventBat {
		return nil, false, api.UnsupportedMediaType(r.Header.Get("Content-Type"), acceptedTypes...)
	}
	idem := r.Header.Get("Idempotency-Key")
	if err := checkIdempotencyKey(idem); err != nil {
		return nil, false, err
	}
	body, err := api.ReadBody(r, int64(x.cfg.Exchange.MaxBody))
	if err != nil {
		return nil, false, err
	}
	if mt == ctJSON {
		if out, batch, ok := x.prepareFast(t, p.Client, body, idem); ok {
			receipts, err := x.write(r.Context(), t, out)
			return receipts, batch, err
		}
	}
	events, batch, structured, err := decodeBody(mt, body)
	if err != nil {
		return nil, batch, err
	}
	out, err := x.prepare(t, p.Client, events, structured, idem, batch)
	if err != nil {
		return nil, batch, err
	}
	receipts, err := x.write(r.Context(), t, out)
	return receipts, batch, err
}

func checkIdempotencyKey(k string) error {
	if len(k) > 200 {
		return api.BadRequest("the Idempotency-Key header is longer than 200 characters")
	}
	for _, c := range []byte(k) {
		if c < 0x21 || c > 0x7e {
			return api.BadRequest("the Idempotency-Key header must be printable ASCII without spaces")
		}
	}
	return nil
}

// prepare validates every event (all-or-nothing: one bad event rejects the
// request, listing every problem) and builds the envelopes.
func (x *Exchange) prepare(t *topic, client string, events []incoming, structured bool, idem string, batch bool) ([]outgoing, error) {
	var errs []api.FieldError
	out := make([]outgoing, len(events))
	now := time.Now().UTC()
	for i := range events {
		in := &events[i]
		at := in.dataPointer(structured)
		if fe := t.schema.Validate(in.value, at); len(fe) > 0 {
			errs = append(errs, fe...)
			continue
		}
		o, err := x.envelope(t, client, in, now, at)
		if err != nil {
			errs = append(errs, api.FieldError{Pointer: at, Message: err.Error()})
			continue
		}
		o.msgID = dedupeID(client, idem, in.id, i, batch)
		out[i] = o
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return out, nil
}

// envelope wraps one event's data in its CloudEvent.
func (x *Exchange) envelope(t *topic, client string, in *incoming, now time.Time, at string) (outgoing, error) {
	ev := Event{
		SpecVersion: "1.0", ID: in.id, Source: "/clients/" + client, Type: in.typ,
		Subject: in.subject, Time: in.time, DataContentType: ctJSON, Data: in.data, Extensions: in.ext,
	}
	if ev.ID == "" {
		ev.ID = nuid.Next()
	}
	if ev.Type == "" {
		ev.Type = t.cfg.Type
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if t.schema != nil {
		ev.DataSchema = t.schema.ID
	}
	key := ""
	if t.cfg.Key != "" {
		k, err := extractKey(in.value, t.cfg.Key)
		if err != nil {
			return outgoing{}, err
		}
		key = k
	}
	return x.sealEnvelope(t, ev, key), nil
}

// sealEnvelope writes ev with its key (the subject) as the stored message.
func (x *Exchange) sealEnvelope(t *topic, ev Event, key string) outgoing {
	if t.cfg.Key != "" {
		ev.Subject = key
	}
	body := ev.appendJSON(make([]byte, 0, 320+len(ev.Data)))
	return outgoing{subject: t.subject(keyToken(key)), id: ev.ID, body: body}
}

// dedupeID is the engine's deduplication id: the client's Idempotency-Key
// (per position in a batch), else a structured CloudEvent's own id (source
// and id identify a CloudEvent), else none.
func dedupeID(client, idem, ceID string, i int, batch bool) string {
	switch {
	case idem != "" && batch:
		return client + ":idem:" + idem + ":" + strconv.Itoa(i)
	case idem != "":
		return client + ":idem:" + idem
	case ceID != "":
		return client + ":ce:" + ceID
	}
	return ""
}

// write stores the events and answers only once the engine acknowledged
// every one of them (fsynced, with durability: always).
func (x *Exchange) write(ctx context.Context, t *topic, out []outgoing) ([]Receipt, error) {
	if t.commit != nil {
		return x.writeShared(ctx, t, out)
	}
	// Single events go the same way as batches, asynchronously: the engine
	// client then shares one reply subscription and its flushes among
	// concurrent requests instead of a request and reply per event.
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(10 * time.Second)}
	if len(out) == 1 {
		opts = append(opts, jetstream.WithExpectStream(StreamName(t.name)))
	}
	futures := make([]jetstream.PubAckFuture, len(out))
	for i, o := range out {
		f, err := x.js.PublishMsgAsync(t.message(o), opts...)
		if err != nil {
			return nil, engineErr(engine.Explain(x.js, err))
		}
		futures[i] = f
	}
	receipts := make([]Receipt, len(out))
	// The batch waits for its acks at most batchAckWait, well inside a
	// client's usual 30 s: without it a batch the engine cannot store (a
	// cluster that lost its quorum) would wait out the engine client's 30 s
	// async timeout and the client would see no answer at all.
	wait := batchAckWait
	if len(out) == 1 {
		wait = singleAckWait
	}
	actx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for i, f := range futures {
		ack, err := engine.AwaitAck(actx, f)
		if err != nil {
			// Like a single publish, a batch that times out because the
			// cluster lost its quorum says so.
			return nil, engineErr(engine.Explain(x.js, err))
		}
		if receipts[i], err = x.receipt(ctx, t, out[i], ack); err != nil {
			return nil, err
		}
	}
	return receipts, nil
}

// writeShared stores the events through the topic's group commit, which
// shares one fsync among concurrent writers (commit.go).
func (x *Exchange) writeShared(ctx context.Context, t *topic, out []outgoing) ([]Receipt, error) {
	msgs := make([]*nats.Msg, len(out))
	for i, o := range out {
		msgs[i] = t.message(o)
	}
	acks, err := t.commit.write(ctx, msgs)
	switch {
	case errors.Is(err, errCommitStopped):
		return nil, api.Unavailable("the server is shutting down; retry (on another replica)")
	case err != nil:
		return nil, engineErr(engine.Explain(x.js, err))
	}
	receipts := make([]Receipt, len(out))
	for i, ack := range acks {
		if receipts[i], err = x.receipt(ctx, t, out[i], ack); err != nil {
			return nil, err
		}
	}
	return receipts, nil
}

// batchAckWait bounds how long a batch waits for the engine's acks, and
// singleAckWait a single event (the engine client's own default for a
// synchronous publish).
const (
	batchAckWait  = 15 * time.Second
	singleAckWait = 5 * time.Second
)

func (t *topic) message(o outgoing) *nats.Msg {
	m := nats.NewMsg(o.subject)
	m.Data = o.body
	if o.msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, o.msgID)
	}
	return m
}

// receipt answers for one acknowledged event; for a duplicate, it reads the
// original back so the caller gets the original id.
func (x *Exchange) receipt(ctx context.Context, t *topic, o outgoing, ack *jetstream.PubAck) (Receipt, error) {
	r := Receipt{ID: o.id, Topic: t.name, Seq: ack.Sequence}
	if !ack.Duplicate {
		x.m.published.WithLabelValues(t.name).Inc()
		return r, nil
	}
	x.m.duplicates.WithLabelValues(t.name).Inc()
	r.Duplicate = true
	msg, err := t.stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		return Receipt{}, engineErr(err)
	}
	var orig struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(msg.Data, &orig); err == nil {
		r.ID = orig.ID
	}
	return r, nil
}

// rejectReason names a publish error for the metrics.
func rejectReason(err error) string {
	var p *api.Problem
	if !errors.As(err, &p) {
		return reasonEngine
	}
	switch p.Status {
	case http.StatusForbidden:
		return reasonForbidden
	case http.StatusRequestEntityTooLarge:
		return reasonTooLarge
	case http.StatusUnsupportedMediaType:
		return reasonMediaType
	case http.StatusServiceUnavailable:
		return reasonEngine
	}
	switch p.Title {
	case "Malformed JSON":
		return reasonMalformed
	case "Invalid event":
		return reasonSchema
	}
	return reasonBadRequest
}
