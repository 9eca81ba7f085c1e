package live

import (
	"context"
	"encoding/base64"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// retained keeps MQTT retained messages in a bucket (keys are the topics,
// base64url) and a copy in memory, followed through a watch, so that a
// subscription is answered without an engine round trip in any process.
// The process that sets a message applies it at once (read your writes:
// a pin acknowledged over HTTP or MQTT is what the next subscriber here
// gets); revisions keep a late watch update from undoing a newer one.
type retained struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu   sync.RWMutex
	msgs map[string]retainedMsg // topic → payload
	w    jetstream.KeyWatcher
}

type retainedMsg struct {
	payload []byte
	rev     uint64
}

func openRetained(kv jetstream.KeyValue, log *slog.Logger) (*retained, error) {
	r := &retained{kv: kv, log: log, msgs: map[string]retainedMsg{}}
	w, err := kv.WatchAll(context.Background())
	if err != nil {
		return nil, err
	}
	r.w = w
	_, _ = loop.Follow(context.Background(), w, func(e jetstream.KeyValueEntry, _ bool) { r.apply(e) })
	return r, nil
}

func (r *retained) apply(e jetstream.KeyValueEntry) {
	raw, err := base64.RawURLEncoding.DecodeString(e.Key())
	if err != nil {
		return
	}
	payload := e.Value()
	if e.Operation() != jetstream.KeyValuePut {
		payload = nil
	}
	r.put(string(raw), payload, e.Revision())
}

// put applies revision rev of topic's message (nil: cleared) unless a
// newer one is already applied.
func (r *retained) put(topic string, payload []byte, rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.msgs[topic]; ok && cur.rev > rev {
		return
	}
	if len(payload) == 0 {
		delete(r.msgs, topic)
		return
	}
	r.msgs[topic] = retainedMsg{payload: payload, rev: rev}
}

// set stores (or, with an empty payload, clears) topic's retained message.
func (r *retained) set(ctx context.Context, topic string, payload []byte) error {
	key := base64.RawURLEncoding.EncodeToString([]byte(topic))
	if len(payload) == 0 {
		err := r.kv.Delete(ctx, key)
		if err == jetstream.ErrKeyNotFound {
			err = nil
		}
		if err == nil {
			r.mu.Lock()
			delete(r.msgs, topic)
			r.mu.Unlock()
		}
		return err
	}
	rev, err := r.kv.Put(ctx, key, payload)
	if err == nil {
		r.put(topic, payload, rev)
	}
	return err
}

// match returns the retained messages that filter matches. Live
// publishes them itself, at QoS 2 (as Server.Deliver does): each
// subscriber gets them at the QoS it was granted.
func (r *retained) match(filter string) []mqtt.Message {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m, ok := r.msgs[filter]; ok {
		return []mqtt.Message{{Topic: filter, Payload: m.payload, QoS: 2, Retain: true}}
	}
	var out []mqtt.Message
	for t, m := range r.msgs {
		if mqtt.Match(filter, t) {
			out = append(out, mqtt.Message{Topic: t, Payload: m.payload, QoS: 2, Retain: true})
		}
	}
	return out
}

func (r *retained) close() {
	if r.w != nil {
		r.w.Stop()
	}
}
