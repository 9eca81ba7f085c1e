package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is an event a sink could not write, as stored in the sink's
// dead-letter stream DLQ_sink_<sink> (subject dlq.sink.<sink>).
type DeadLetter struct {
	ID          uint64          `json:"id,omitempty"` // its sequence in the dead-letter stream
	Sink        string          `json:"sink"`
	Topic       string          `json:"topic"`
	Seq         uint64          `json:"seq"` // the event's sequence in the topic
	Subject     string          `json:"subject"`
	Event       json.RawMessage `json:"event"` // the stored CloudEvent
	Error       string          `json:"error"`
	Attempts    int             `json:"attempts"`
	FirstFailed time.Time       `json:"first_failed"`
	LastFailed  time.Time       `json:"last_failed"`
}

// DeadLetterStream and DeadLetterSubject name a sink's dead-letter stream.
func DeadLetterStream(sink string) string  { return "DLQ_sink_" + sink }
func DeadLetterSubject(sink string) string { return "dlq.sink." + sink }

// deadLetters is one sink's dead-letter stream. Dead letters are kept
// until they are redriven or deleted.
type deadLetters struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	sink    string
	subject string
}

func openDeadLetters(ctx context.Context, js jetstream.JetStream, sink string) (*deadLetters, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStream(sink),
		Description: "stadion dead letters of sink " + sink,
		Subjects:    []string{DeadLetterSubject(sink)},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		AllowDirect: true,
		Metadata:    map[string]string{"stadion.sink": sink},
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: dead-letter stream of sink %s: %w", sink, err)
	}
	return &deadLetters{js: js, stream: st, sink: sink, subject: DeadLetterSubject(sink)}, nil
}

// put stores a dead letter; it returns once the engine has acknowledged it.
func (d *deadLetters) put(ctx context.Context, dl DeadLetter) error {
	raw, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	_, err = d.js.Publish(ctx, d.subject, raw)
	return err
}

// list returns up to limit dead letters with IDs above after.
func (d *deadLetters) list(ctx context.Context, after uint64, limit int) ([]DeadLetter, error) {
	out := []DeadLetter{}
	for seq := after + 1; len(out) < limit; {
		m, err := d.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(d.subject))
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

// get returns the dead letters with the given IDs (missing ones are left out).
func (d *deadLetters) get(ctx context.Context, ids []uint64) ([]DeadLetter, error) {
	var out []DeadLetter
	for _, id := range ids {
		if id == 0 {
			continue
		}
		got, err := d.list(ctx, id-1, 1)
		if err != nil {
			return nil, err
		}
		if len(got) == 1 && got[0].ID == id {
			out = append(out, got[0])
		}
	}
	return out, nil
}

func (d *deadLetters) count(ctx context.Context) (uint64, error) {
	info, err := d.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// remove deletes the given dead letters, or all of them when ids is empty.
// It returns how many it deleted.
func (d *deadLetters) remove(ctx context.Context, ids []uint64) (int, error) {
	if len(ids) == 0 {
		n, err := d.count(ctx)
		if err == nil {
			err = d.stream.Purge(ctx)
		}
		return int(n), err
	}
	n := 0
	for _, id := range ids {
		err := d.stream.DeleteMsg(ctx, id)
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

// deadLetter stores it's dead letter, retrying until the engine takes it,
// and only then acknowledges the event: it is never in neither place.
func (s *sink) deadLetter(ctx context.Context, it *item, cause error) {
	now := time.Now().UTC()
	if it.firstFail.IsZero() {
		it.firstFail = now
	}
	dl := DeadLetter{
		Sink: s.name, Topic: s.cfg.Topic, Seq: it.row.Seq, Subject: it.msg.Subject(),
		Event: it.msg.Data(), Error: cause.Error(), Attempts: max(1, it.attempts),
		FirstFailed: it.firstFail.UTC(), LastFailed: now,
	}
	for bo := newBackoff(); ; bo.wait(ctx) {
		if ctx.Err() != nil {
			_ = it.msg.Nak()
			return
		}
		err := s.dlq.put(ctx, dl)
		if err == nil {
			break
		}
		s.fail(fmt.Errorf("storing dead letter: %w", err))
	}
	_ = it.msg.Ack()
	s.st.failed(fmt.Errorf("seq %d dead-lettered: %w", dl.Seq, cause))
	s.m.deadLetters.Inc()
	s.log.Warn("event dead-lettered", "seq", dl.Seq, "attempts", dl.Attempts, "error", dl.Error)
}
