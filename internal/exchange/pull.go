package exchange

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// Delivery is one event handed to a subscription's worker.
type Delivery struct {
	// AckID is opaque: send it back to /ack or /nack. It works from any
	// stadion replica, so workers need no sticky sessions.
	AckID string `json:"ack_id"`
	// Delivery counts how often the event was handed out (1 = first time).
	Delivery uint64          `json:"delivery"`
	Event    json.RawMessage `json:"event"`
}

type pullRequest struct {
	Max  int    `json:"max"`
	Wait string `json:"wait"`
}

const maxPullWait = 60 * time.Second

func (x *Exchange) handlePull(w http.ResponseWriter, r *http.Request) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	req := pullRequest{Max: 10}
	if err := api.DecodeJSON(r, 4<<10, &req); err != nil {
		return err
	}
	if req.Max < 1 || req.Max > maxLimit {
		return api.BadRequest(fmt.Sprintf("max must be 1-%d", maxLimit))
	}
	wait := time.Duration(0)
	if req.Wait != "" {
		if wait, err = time.ParseDuration(req.Wait); err != nil || wait < 0 || wait > maxPullWait {
			return api.BadRequest("wait must be a duration from 0s to 60s")
		}
	}
	if s.Push != nil {
		return conflict(fmt.Sprintf("subscription %q pushes to a webhook; it cannot be pulled", s.Name))
	}
	ctx := r.Context()
	if wait > 0 {
		// A pull that waits is a long-lived response: it counts against
		// the client's cap and ends when the client's key is revoked.
		st, err := x.openStream(w, r, "pull")
		if err != nil {
			return err
		}
		defer st.Close()
		ctx = st.Context()
	}
	msgs, err := x.fetchLive(ctx, s, req.Max, wait)
	if err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			return ended(r)
		}
		return err
	}
	out := make([]Delivery, len(msgs))
	for i, m := range msgs {
		out[i] = Delivery{
			AckID:    base64.RawURLEncoding.EncodeToString([]byte(m.msg.Reply())),
			Delivery: m.md.NumDelivered,
			Event:    withSeq(m.msg.Data(), topicSeq(m.msg.Headers(), m.md.Sequence.Stream)),
		}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

// fetched is a message handed out with its metadata.
type fetched struct {
	msg jetstream.Msg
	md  *jetstream.MsgMetadata
}

// fetchLive fetches up to max events for s: redriven events first, then
// the topic's. An event past its last attempt is dead-lettered on the way
// instead of handed out, so a batch may hold fewer than max (even none).
func (x *Exchange) fetchLive(ctx context.Context, s Subscription, max int, wait time.Duration) ([]fetched, error) {
	out := []fetched{}
	if rc, err := x.js.Consumer(ctx, RedriveStream(s.Name), x.consumerName(s.Name)); err == nil {
		if out, err = x.fetchFrom(ctx, s, rc, max, 0, out); err != nil {
			return nil, engineErr(err)
		}
	}
	if len(out) > 0 {
		wait = 0
	}
	if len(out) == max {
		return out, nil
	}
	cons, err := x.consumer(ctx, s)
	if err != nil {
		return nil, err
	}
	if out, err = x.fetchFrom(ctx, s, cons, max-len(out), wait, out); err != nil {
		return nil, engineErr(err)
	}
	return out, nil
}

func (x *Exchange) fetchFrom(ctx context.Context, s Subscription, cons jetstream.Consumer, max int, wait time.Duration, out []fetched) ([]fetched, error) {
	err := x.fetchEach(ctx, s, cons, max, wait, func(f fetched) { out = append(out, f) })
	return out, err
}

// fetchEach fetches up to max events from cons and calls fn with each as
// it arrives, dead-lettering those past their last attempt on the way.
func (x *Exchange) fetchEach(ctx context.Context, s Subscription, cons jetstream.Consumer, max int, wait time.Duration, fn func(fetched), opts ...jetstream.FetchOpt) error {
	var batch jetstream.MessageBatch
	var err error
	if wait == 0 {
		batch, err = cons.FetchNoWait(max)
	} else {
		// The fetch ends at wait, or earlier with ctx (a revoked key, a
		// client gone, a stopping pusher).
		fctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		batch, err = cons.Fetch(max, append(opts, jetstream.FetchContext(fctx))...)
	}
	if err != nil {
		return err
	}
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		if md.NumDelivered > uint64(s.Retry.MaxAttempts) {
			if err := x.deadLetter(ctx, s, m, md, md.NumDelivered-1); err != nil {
				// It stays with the consumer and comes back to be tried again.
				x.log.Error("dead letter not stored", "subscription", s.Name, "seq", md.Sequence.Stream, "error", err)
				_ = m.NakWithDelay(5 * time.Second)
			}
			continue
		}
		if md.NumDelivered > 1 {
			x.sm.retries.WithLabelValues(s.Name).Inc()
		}
		fn(fetched{m, md})
	}
	if err := batch.Error(); err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return err
	}
	return nil
}

type ackRequest struct {
	AckIDs []string `json:"ack_ids"`
	// Delay (nack only) before the events are delivered again; without it
	// the subscription's retry schedule decides.
	Delay string `json:"delay"`
	// Error (nack only) is kept as the events' last error, shown on their
	// dead letters should they run out of attempts.
	Error string `json:"error"`
}

func (x *Exchange) handleAck(w http.ResponseWriter, r *http.Request) error {
	return x.settle(w, r, false)
}

func (x *Exchange) handleNack(w http.ResponseWriter, r *http.Request) error {
	return x.settle(w, r, true)
}

// settle acks or nacks deliveries. Each is confirmed by the engine before
// the answer, so a 200 means the ack is recorded.
func (x *Exchange) settle(w http.ResponseWriter, r *http.Request, nack bool) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	var req ackRequest
	if err := api.DecodeJSON(r, 1<<20, &req); err != nil {
		return err
	}
	if len(req.AckIDs) == 0 || len(req.AckIDs) > maxLimit {
		return api.BadRequest(fmt.Sprintf("ack_ids must list 1-%d ids", maxLimit))
	}
	if !nack && req.Error != "" {
		return api.BadRequest("error is for nack only")
	}
	if _, err := settlePayload(nack, req.Delay, 0); err != nil {
		return err
	}
	subjects, err := ackSubjects(req.AckIDs, x.consumerName(s.Name), StreamName(s.Topic), RedriveStream(s.Name))
	if err != nil {
		return err
	}
	for _, subj := range subjects {
		if err := x.settleOne(r.Context(), s, subj, nack, req); err != nil {
			return engineErr(err)
		}
	}
	verb := "acked"
	if nack {
		verb = "nacked"
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{verb: len(subjects)})
	return nil
}

// settleOne acks or nacks one delivery; a nack records its error first.
func (x *Exchange) settleOne(ctx context.Context, s Subscription, subj string, nack bool, req ackRequest) error {
	stream, delivered, seq := ackInfo(subj)
	if nack {
		msg := req.Error
		if msg == "" {
			msg = "nacked by a worker"
		}
		if err := x.recordFailure(ctx, failureKey(s.Name, stream, seq), msg); err != nil {
			return err
		}
	}
	last := nack && delivered >= uint64(s.Retry.MaxAttempts)
	delay := req.Delay
	if last {
		delay = "" // the last attempt failed: no retry to wait for
	}
	payload, _ := settlePayload(nack, delay, s.Retry.nakDelay(delivered))
	if err := x.confirm(ctx, subj, payload); err != nil {
		return err
	}
	if last {
		// Have the engine give it up now, so its dead letter appears
		// without waiting for the next pull (deadletter_watch.go).
		if err := x.watch.Nudge(ctx, x.nc, stream, x.consumerName(s.Name)); err != nil {
			x.log.Debug("consumer not nudged", "subscription", s.Name, "error", err)
		}
	}
	return nil
}

// settlePayload is the engine's ack or nack; a nack without a delay waits
// def, the retry schedule's step for the attempt.
func settlePayload(nack bool, delay string, def time.Duration) ([]byte, error) {
	if !nack {
		if delay != "" {
			return nil, api.BadRequest("delay is for nack only")
		}
		return []byte("+ACK"), nil
	}
	if delay == "" {
		if def <= 0 {
			return []byte("-NAK"), nil
		}
		return fmt.Appendf(nil, `-NAK {"delay": %d}`, def.Nanoseconds()), nil
	}
	d, err := time.ParseDuration(delay)
	if err != nil || d < 0 || d > 24*time.Hour {
		return nil, api.BadRequest("delay must be a duration from 0s to 24h")
	}
	return fmt.Appendf(nil, `-NAK {"delay": %d}`, d.Nanoseconds()), nil
}

func (x *Exchange) confirm(ctx context.Context, subject string, payload []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := x.nc.RequestWithContext(ctx, subject, payload)
	return err
}

// ackSubjects decodes ack ids and checks that each is an ack subject of
// this subscription's consumer on one of streams (the topic's, the
// subscription's redrive stream): an ack id can never make stadion publish
// anywhere else.
func ackSubjects(ids []string, consumer string, streams ...string) ([]string, error) {
	out := make([]string, len(ids))
	var errs []api.FieldError
	for i, id := range ids {
		raw, err := base64.RawURLEncoding.DecodeString(id)
		subj := string(raw)
		if err != nil || !slices.ContainsFunc(streams, func(st string) bool { return isAckSubject(subj, st, consumer) }) {
			errs = append(errs, api.FieldError{Pointer: "/ack_ids/" + strconv.Itoa(i), Message: "not an ack id of this subscription"})
			continue
		}
		out[i] = subj
	}
	if len(errs) > 0 {
		p := api.BadRequest("some ack ids are not valid for this subscription")
		p.Errors = errs
		return nil, p
	}
	return out, nil
}

// isAckSubject accepts $JS.ACK.<stream>.<consumer>.<5 numbers> and the
// newer $JS.ACK.<domain>.<account>.<stream>.<consumer>.<6 numbers>.<token>.
func isAckSubject(subj, stream, consumer string) bool {
	if strings.ContainsAny(subj, " \t\r\n*>") {
		return false
	}
	tok := strings.Split(subj, ".")
	if len(tok) < 9 || tok[0] != "$JS" || tok[1] != "ACK" {
		return false
	}
	switch len(tok) {
	case 9:
		return tok[2] == stream && tok[3] == consumer && allDigits(tok[4:9])
	case 12:
		return tok[4] == stream && tok[5] == consumer && allDigits(tok[6:11])
	}
	return false
}

func allDigits(toks []string) bool {
	for _, t := range toks {
		if _, err := strconv.ParseUint(t, 10, 64); err != nil {
			return false
		}
	}
	return true
}
