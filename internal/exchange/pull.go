package exchange

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
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
	cons, err := x.consumer(r.Context(), s)
	if err != nil {
		return err
	}
	deliveries, err := fetch(cons, req.Max, wait)
	if err != nil {
		return engineErr(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"events": deliveries})
	return nil
}

func fetch(cons jetstream.Consumer, max int, wait time.Duration) ([]Delivery, error) {
	var batch jetstream.MessageBatch
	var err error
	if wait == 0 {
		batch, err = cons.FetchNoWait(max)
	} else {
		batch, err = cons.Fetch(max, jetstream.FetchMaxWait(wait))
	}
	if err != nil {
		return nil, err
	}
	out := []Delivery{}
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		out = append(out, Delivery{
			AckID:    base64.RawURLEncoding.EncodeToString([]byte(m.Reply())),
			Delivery: md.NumDelivered,
			Event:    withSeq(m.Data(), md.Sequence.Stream),
		})
	}
	return out, batch.Error()
}

type ackRequest struct {
	AckIDs []string `json:"ack_ids"`
	// Delay (nack only) before the events are delivered again.
	Delay string `json:"delay"`
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
	payload, err := settlePayload(nack, req.Delay)
	if err != nil {
		return err
	}
	subjects, err := ackSubjects(req.AckIDs, StreamName(s.Topic), x.consumerName(s.Name))
	if err != nil {
		return err
	}
	for _, subj := range subjects {
		if err := x.confirm(r.Context(), subj, payload); err != nil {
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

func settlePayload(nack bool, delay string) ([]byte, error) {
	if !nack {
		if delay != "" {
			return nil, api.BadRequest("delay is for nack only")
		}
		return []byte("+ACK"), nil
	}
	if delay == "" {
		return []byte("-NAK"), nil
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
// this subscription's consumer: an ack id can never make stadion publish
// anywhere else.
func ackSubjects(ids []string, stream, consumer string) ([]string, error) {
	out := make([]string, len(ids))
	var errs []api.FieldError
	for i, id := range ids {
		raw, err := base64.RawURLEncoding.DecodeString(id)
		subj := string(raw)
		if err != nil || !isAckSubject(subj, stream, consumer) {
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
