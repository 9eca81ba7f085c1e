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
)

// DeadLetter is an event a subscription gave up on, as stored in the
// subscription's dead-letter stream DLQ_sub_<name> (subject dlq.sub.<name>).
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
func DeadLetterStream(sub string) string  { return "DLQ_sub_" + sub }
func DeadLetterSubject(sub string) string { return "dlq.sub." + sub }
func RedriveStream(sub string) string     { return "REDRIVE_sub_" + sub }
func RedriveSubject(sub string) string    { return "redrive.sub." + sub }

// seqHeader carries a redriven event's original topic sequence.
const seqHeader = "Stadion-Seq"

// ensureSubStreams creates (or updates) a subscription's dead-letter and
// redrive streams and the redrive consumer, configured like cc.
func (x *Exchange) ensureSubStreams(ctx context.Context, name string, cc jetstream.ConsumerConfig) error {
	meta := map[string]string{"stadion.subscription": name}
	if _, err := x.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: DeadLetterStream(name), Description: "stadion dead letters of subscription " + name,
		Subjects: []string{DeadLetterSubject(name)}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, AllowDirect: true, Metadata: meta,
	}); err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
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
	for _, st := range []string{DeadLetterStream(name), RedriveStream(name)} {
		if err := x.js.DeleteStream(ctx, st); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
	}
	return nil
}

// deadLetter stores m as a dead letter of s and only once the engine has
// acknowledged that copy terminates m: the event is never in neither
// place. A crash in between redelivers m (consumers have no delivery
// limit), which stores it again rather than losing it; the engine drops
// that second copy when it comes within the duplicate window.
func (x *Exchange) deadLetter(ctx context.Context, s Subscription, m jetstream.Msg, md *jetstream.MsgMetadata, attempts uint64) error {
	seq := topicSeq(m, md)
	key := failureKey(s.Name, md.Stream, md.Sequence.Stream)
	dl := DeadLetter{
		Subscription: s.Name, Topic: s.Topic, Seq: seq, EventID: eventID(m.Data()), Event: m.Data(),
		Error: "not acknowledged within ack_wait", Attempts: attempts,
		LastFailed: md.Timestamp.UTC(), DeadAt: time.Now().UTC(),
	}
	if f, ok := x.lookupFailure(ctx, key); ok {
		dl.Error, dl.FirstFailed, dl.LastFailed = f.Error, f.First, f.Last
	}
	raw, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := x.storeDeadLetter(pctx, s.Name, md, raw); err != nil {
		return fmt.Errorf("storing dead letter: %w", err)
	}
	if err := m.TermWithReason("stadion: dead-lettered"); err != nil {
		return fmt.Errorf("terminating dead-lettered event: %w", err)
	}
	x.forgetFailure(ctx, key)
	x.sm.deadLetters.WithLabelValues(s.Name).Inc()
	x.log.Warn("event dead-lettered", "subscription", s.Name, "seq", seq, "attempts", dl.Attempts, "error", dl.Error)
	return nil
}

// storeDeadLetter stores a dead letter named by the event's place in its
// stream, so that a crash between this store and the event's Term (the
// event comes back and is dead-lettered again, maybe on another node) is a
// duplicate to the engine within the dead-letter stream's duplicate
// window rather than a second copy. A duplicate whose original is gone
// (discarded, and the event delivered again by a recreated consumer) is
// stored anew: a dead letter is never dropped for a copy that no longer
// exists.
func (x *Exchange) storeDeadLetter(ctx context.Context, sub string, md *jetstream.MsgMetadata, raw []byte) error {
	id := "dl:" + md.Stream + ":" + strconv.FormatUint(md.Sequence.Stream, 10)
	msg := func(id string) *nats.Msg {
		m := &nats.Msg{Subject: DeadLetterSubject(sub), Data: raw, Header: nats.Header{}}
		m.Header.Set(nats.MsgIdHdr, id)
		return m
	}
	ack, err := x.js.PublishMsg(ctx, msg(id))
	if err != nil || !ack.Duplicate {
		return err
	}
	st, err := x.js.Stream(ctx, DeadLetterStream(sub))
	if err != nil {
		return err
	}
	if _, err := st.GetMsg(ctx, ack.Sequence); !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err // the original is there (or the check failed: retried)
	}
	_, err = x.js.PublishMsg(ctx, msg(id+":"+strconv.FormatInt(time.Now().UnixNano(), 36)))
	return err
}

// topicSeq is the event's sequence in its topic: the message's own, or
// for a redriven event the one it carries.
func topicSeq(m jetstream.Msg, md *jetstream.MsgMetadata) uint64 {
	if v := m.Headers().Get(seqHeader); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n
		}
	}
	return md.Sequence.Stream
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
	out := []DeadLetter{}
	st, err := x.js.Stream(ctx, DeadLetterStream(sub))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for seq := after + 1; len(out) < limit; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(DeadLetterSubject(sub)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		var dl DeadLetter
		if err := json.Unmarshal(m.Data, &dl); err != nil {
			return nil, fmt.Errorf("dead letter %d: %w", m.Sequence, err)
		}
		dl.ID = m.Sequence
		out = append(out, dl)
		seq = m.Sequence + 1
	}
	return out, nil
}

// removeDeadLetters deletes the given dead letters, or all when ids is
// empty, and says how many it deleted.
func (x *Exchange) removeDeadLetters(ctx context.Context, sub string, ids []uint64) (int, error) {
	st, err := x.js.Stream(ctx, DeadLetterStream(sub))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		info, err := st.Info(ctx)
		if err != nil {
			return 0, err
		}
		return int(info.State.Msgs), st.Purge(ctx)
	}
	n := 0
	for _, id := range ids {
		err := st.DeleteMsg(ctx, id)
		if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// redrive hands dead letters (the given ids, or all) to the subscription
// again: each is copied into the subscription's redrive stream and, once
// the engine has it, deleted from the dead letters. The copy carries the
// dead letter's id as Nats-Msg-Id, so a redrive repeated after a crash in
// between does not deliver it twice. It returns how many it redrove.
func (x *Exchange) redrive(ctx context.Context, sub string, ids []uint64) (int, error) {
	n := 0
	var after uint64
	for {
		dls, err := x.nextToRedrive(ctx, sub, ids, &after)
		if err != nil || len(dls) == 0 {
			return n, err
		}
		for _, dl := range dls {
			msg := &nats.Msg{Subject: RedriveSubject(sub), Data: dl.Event, Header: nats.Header{}}
			msg.Header.Set(seqHeader, strconv.FormatUint(dl.Seq, 10))
			msg.Header.Set(nats.MsgIdHdr, "dlq:"+strconv.FormatUint(dl.ID, 10))
			if _, err := x.js.PublishMsg(ctx, msg); err != nil {
				return n, err
			}
			if _, err := x.removeDeadLetters(ctx, sub, []uint64{dl.ID}); err != nil {
				return n, err
			}
			n++
		}
	}
}

// nextToRedrive pages through all dead letters, or takes the listed ones once.
func (x *Exchange) nextToRedrive(ctx context.Context, sub string, ids []uint64, after *uint64) ([]DeadLetter, error) {
	if len(ids) == 0 {
		dls, err := x.deadLetters(ctx, sub, *after, 100)
		if len(dls) > 0 {
			*after = dls[len(dls)-1].ID
		}
		return dls, err
	}
	if *after > 0 {
		return nil, nil
	}
	*after = 1
	var out []DeadLetter
	for _, id := range ids {
		if id == 0 {
			continue
		}
		got, err := x.deadLetters(ctx, sub, id-1, 1)
		if err != nil {
			return nil, err
		}
		if len(got) == 1 && got[0].ID == id {
			out = append(out, got[0])
		}
	}
	return out, nil
}
