package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/deadletter"
)

// DeadLetter is an event a subscription gave up on, as stored in the
// subscription's dead-letter stream DLQ_sub_<name> (subject dlq.sub.<name>)
// of the dead-letter store (internal/deadletter, kind sub).
type DeadLetter struct {
	ID           uint64          `json:"id,omitempty"` // its sequence in the dead-letter stream
	Subscription string          `json:"subscription"`
	Topic        string          `json:"topic"`
	Seq          uint64          `json:"seq"` // the event's sequence in the topic
	EventID      string          `json:"event_id"`
	Event        json.RawMessage `json:"event"` // the stored CloudEvent
	Error        string          `json:"error"`
	Attempts     uint64          `json:"attempts"`
	FirstFailed  time.Time       `json:"first_failed,omitzero"`
	LastFailed   time.Time       `json:"last_failed"`
	DeadAt       time.Time       `json:"dead_lettered"`
}

// The streams of a subscription's dead letters and of the events redriven
// to it. Redriven events go to a work-queue stream of their own, read by a
// second consumer of the subscription, so that only this subscription sees
// them again (publishing into the topic would show them to every reader).
func DeadLetterStream(sub string) string  { return deadletter.StreamName(deadletter.Sub, sub) }
func DeadLetterSubject(sub string) string { return deadletter.Subject(deadletter.Sub, sub) }
func RedriveStream(sub string) string     { return "REDRIVE_sub_" + sub }
func RedriveSubject(sub string) string    { return "redrive.sub." + sub }

// seqHeader carries a redriven event's original topic sequence.
const seqHeader = "Stadion-Seq"

// ensureSubStreams creates (or updates) a subscription's dead-letter and
// redrive streams and the redrive consumer, configured like cc.
func (x *Exchange) ensureSubStreams(ctx context.Context, name string, cc jetstream.ConsumerConfig) error {
	meta := map[string]string{"stadion.subscription": name}
	if err := x.dls.Open(ctx, name, "stadion dead letters of subscription "+name, meta); err != nil {
		return err
	}
	if _, err := x.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: RedriveStream(name), Description: "stadion events redriven to subscription " + name,
		Subjects: []string{RedriveSubject(name)}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: 10 * time.Minute, Metadata: meta,
	}); err != nil {
		return fmt.Errorf("redrive stream: %w", err)
	}
	rc := cc
	rc.FilterSubject, rc.DeliverPolicy, rc.OptStartSeq, rc.OptStartTime = "", jetstream.DeliverAllPolicy, 0, nil
	rc.Description = "stadion redrive of subscription " + name
	if _, err := x.js.CreateOrUpdateConsumer(ctx, RedriveStream(name), rc); err != nil {
		return fmt.Errorf("redrive consumer: %w", err)
	}
	return nil
}

// dropSubStreams deletes a subscription's dead-letter and redrive streams.
func (x *Exchange) dropSubStreams(ctx context.Context, name string) error {
	if err := x.dls.Drop(ctx, name); err != nil {
		return err
	}
	if err := x.js.DeleteStream(ctx, RedriveStream(name)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	return nil
}

// deadLetter stores m as a dead letter of s and only once the engine has
// acknowledged that copy terminates m: the event is never in neither
// place. A crash in between redelivers m, which stores it again under the
// same dedupe id rather than losing it. (Since consumers carry their delivery limit, the
// engine's advisory dead-letters most events, see deadletter_watch.go;
// this is the path of a consumer made by an older binary, without a limit,
// and of a webhook's last failed call.)
func (x *Exchange) deadLetter(ctx context.Context, s Subscription, m jetstream.Msg, md *jetstream.MsgMetadata, attempts uint64) error {
	seq := topicSeq(m.Headers(), md.Sequence.Stream)
	dl := x.newDeadLetter(ctx, s, md.Stream, md.Sequence.Stream, seq, m.Data(), attempts, md.Timestamp)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The event's place in its stream names the letter: a crash between
	// this store and the Term below (the event comes back and is
	// dead-lettered again, maybe on another node) stores no second copy.
	if _, err := x.dls.Put(pctx, s.Name, "dl:"+md.Stream+":"+strconv.FormatUint(md.Sequence.Stream, 10), dl); err != nil {
		return fmt.Errorf("storing dead letter: %w", err)
	}
	if err := m.TermWithReason("stadion: dead-lettered"); err != nil {
		return fmt.Errorf("terminating dead-lettered event: %w", err)
	}
	x.deadLettered(ctx, s, md.Stream, md.Sequence.Stream, dl)
	return nil
}

// newDeadLetter is the record of an event of stream (at streamSeq; seq in
// the topic) that s gave up after attempts, with the last error a worker
// or the webhook reported for it.
func (x *Exchange) newDeadLetter(ctx context.Context, s Subscription, stream string, streamSeq, seq uint64, event []byte, attempts uint64, last time.Time) DeadLetter {
	dl := DeadLetter{
		Subscription: s.Name, Topic: s.Topic, Seq: seq, EventID: eventID(event), Event: event,
		Error: "not acknowledged within ack_wait", Attempts: attempts,
		LastFailed: last.UTC(), DeadAt: time.Now().UTC(),
	}
	if f, ok := x.lookupFailure(ctx, failureKey(s.Name, stream, streamSeq)); ok {
		dl.Error, dl.FirstFailed, dl.LastFailed = f.Error, f.First, f.Last
	}
	return dl
}

// deadLettered forgets the event's failure record and counts the letter.
func (x *Exchange) deadLettered(ctx context.Context, s Subscription, stream string, streamSeq uint64, dl DeadLetter) {
	x.forgetFailure(ctx, failureKey(s.Name, stream, streamSeq))
	x.sm.deadLetters.WithLabelValues(s.Name).Inc()
	x.log.Warn("event dead-lettered", "subscription", s.Name, "seq", dl.Seq, "attempts", dl.Attempts, "error", dl.Error)
}

// topicSeq is the event's sequence in its topic: the message's own, or
// for a redriven event the one it carries.
func topicSeq(h nats.Header, own uint64) uint64 {
	if v := h.Get(seqHeader); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n
		}
	}
	return own
}

func eventID(stored []byte) string {
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(stored, &ev)
	return ev.ID
}

// deadLetters lists up to limit dead letters of sub with IDs above after.
func (x *Exchange) deadLetters(ctx context.Context, sub string, after uint64, limit int) ([]DeadLetter, error) {
	es, err := x.dls.List(ctx, sub, after, limit)
	if err != nil {
		return nil, err
	}
	return deadletter.Decode(es, withID)
}

// withID gives a decoded letter its id in the store.
func withID(dl *DeadLetter, id uint64) { dl.ID = id }

// removeDeadLetters deletes the given dead letters, or all when ids is
// empty, and says how many it deleted.
func (x *Exchange) removeDeadLetters(ctx context.Context, sub string, ids []uint64) (int, error) {
	return x.dls.Remove(ctx, sub, ids)
}

// redrive hands dead letters (the given ids, or all) to the subscription
// again: each is copied into the subscription's redrive stream and, once
// the engine has it, deleted from the dead letters. The copy carries the
// dead letter's id as Nats-Msg-Id, so a redrive repeated after a crash in
// between, or running at once on two replicas, does not deliver it twice.
// It returns how many it redrove.
func (x *Exchange) redrive(ctx context.Context, sub string, ids []uint64) (int, error) {
	res, err := x.dls.Redrive(ctx, sub, ids, func(ctx context.Context, e deadletter.Entry) error {
		dl, err := deadletter.DecodeOne(e, withID)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: RedriveSubject(sub), Data: dl.Event, Header: nats.Header{}}
		msg.Header.Set(seqHeader, strconv.FormatUint(dl.Seq, 10))
		msg.Header.Set(nats.MsgIdHdr, "dlq:"+strconv.FormatUint(dl.ID, 10))
		_, err = x.js.PublishMsg(ctx, msg)
		return err
	})
	return res.Redriven, err
}
