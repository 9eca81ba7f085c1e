package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The tick stream: a work queue of captures to take. Each tick is stored
// once however many schedulers publish it (Nats-Msg-Id), and removed when
// a worker acknowledges it.
const (
	ticksStream    = "CAPTURE_TICKS"
	ticksSubject   = "capture.tick."
	workersDurable = "capture-workers"
	// tickDedupe bounds the clock skew between processes that still
	// yields one capture per tick.
	tickDedupe = 2 * time.Minute
	// maxDeliver bounds how often a tick is handed out (a worker that
	// dies each time, a capture that never ends).
	maxDeliver = 4
)

// Trigger kinds.
const (
	kindSchedule = "schedule"
	kindManual   = "manual"
	kindEvent    = "event"
)

// tick is one capture to take.
type tick struct {
	ID   string    `json:"id"` // also the capture's ID
	Job  string    `json:"job"`
	At   time.Time `json:"at"`   // when the capture was due
	Kind string    `json:"kind"` // schedule, manual or event
	// Event names the exchange event that fired it (kind event).
	Event string `json:"event,omitempty"`
}

func scheduledTick(job string, at time.Time) tick {
	return tick{ID: job + "-" + strconv.FormatInt(at.UnixMilli(), 10), Job: job, At: at.UTC(), Kind: kindSchedule}
}

func manualTick(job string) tick {
	now := time.Now().UTC()
	return tick{ID: job + "-" + strconv.FormatInt(now.UnixMilli(), 10) + "-m" + nuid.Next()[16:], Job: job, At: now, Kind: kindManual}
}

func eventTick(job, topic string, seq uint64) tick {
	return tick{
		ID: fmt.Sprintf("%s-%d-e%s%d", job, time.Now().UnixMilli(), topic, seq), Job: job, At: time.Now().UTC(),
		Kind: kindEvent, Event: fmt.Sprintf("%s/%d", topic, seq),
	}
}

// dedupeKey is the Nats-Msg-Id of a tick: the same for every scheduler.
func (t tick) dedupeKey() string {
	if t.Kind == kindEvent {
		return t.Job + ":" + t.Event
	}
	return t.ID
}

type ticks struct {
	js   jetstream.JetStream
	cons jetstream.Consumer
}

func openTicks(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) (*ticks, error) {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: ticksStream, Description: "capture ticks: one message per capture to take",
		Subjects: []string{ticksSubject + ">"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: tickDedupe, MaxAge: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("capture: tick stream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, ticksStream, jetstream.ConsumerConfig{
		Durable: workersDurable, Description: "capture workers of every stadion process",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: maxDeliver,
		MaxAckPending: 10000,
	})
	if err != nil {
		return nil, fmt.Errorf("capture: tick consumer: %w", err)
	}
	return &ticks{js: js, cons: cons}, nil
}

// publish stores a tick; a duplicate of one already stored is dropped by
// the engine. It reports whether this call stored it.
func (t *ticks) publish(ctx context.Context, tk tick) (bool, error) {
	raw, _ := json.Marshal(tk)
	msg := nats.NewMsg(ticksSubject + tk.Job)
	msg.Data = raw
	msg.Header.Set(jetstream.MsgIDHeader, tk.dedupeKey())
	ack, err := t.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(ticksStream))
	if err != nil {
		return false, fmt.Errorf("capture: publishing tick %s: %w", tk.ID, err)
	}
	return !ack.Duplicate, nil
}
