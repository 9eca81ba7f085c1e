package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/stadion-dev/stadion/internal/deadletter"
)

// DeadLetter is an event a sink could not write, as stored in the sink's
// dead-letter stream DLQ_sink_<sink> (subject dlq.sink.<sink>) of the
// dead-letter store (internal/deadletter, kind sink). Dead letters are
// kept until they are redriven or deleted.
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
func DeadLetterStream(sink string) string  { return deadletter.StreamName(deadletter.Sink, sink) }
func DeadLetterSubject(sink string) string { return deadletter.Subject(deadletter.Sink, sink) }

// retrySchedule is a sink's: transient failures wait 50ms doubling to 15s
// with jitter, forever; a row the database rejects is given up after
// max_attempts.
func retrySchedule(maxAttempts int) deadletter.Schedule {
	s := deadletter.Exponential(50*time.Millisecond, 15*time.Second)
	s.MaxAttempts = maxAttempts
	return s
}

// withID gives a decoded letter its id in the store.
func withID(dl *DeadLetter, id uint64) { dl.ID = id }

// deadLetter stores it's dead letter, retrying until the engine takes it,
// and only then acknowledges the event: it is never in neither place. The
// letter's Nats-Msg-Id is the event's sequence, so a crash between the two
// (which redelivers the event) stores it once.
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
	msgID := "sink:" + strconv.FormatUint(dl.Seq, 10)
	for bo := s.retry.Backoff(); ; bo.Wait(ctx) {
		if ctx.Err() != nil {
			_ = it.msg.Nak()
			return
		}
		_, err := s.dls.Put(ctx, s.name, msgID, dl)
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
