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
// The bridge's messages on their way to the bucket (pending) are served
// here over the stored ones, so a subscriber of the bridging process
// gets the newest event's at once.
type retained struct {
	kv      jetstream.KeyValue
	log     *slog.Logger
	pending *pendingSet // nil: none

	mu   sync.RWMutex
	msgs map[string]retainedMsg // topic → payload
	w    jetstream.KeyWatcher
}

type retainedMsg struct {
	payload []byte
	rev     uint64
}

func openRetained(kv jetstream.KeyValue, pending *pendingSet, log *slog.Logger) (*retained, error) {
	r := &retained{kv: kv, log: log, pending: pending, msgs: map[string]retainedMsg{}}
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

// key is topic's key in the bucket.
func retainedKey(topic string) string { return base64.RawURLEncoding.EncodeToString([]byte(topic)) }

// subject is the engine subject a write of topic's message is published
// on (a KV put, for writers that pipeline them).
func (r *retained) subject(topic string) string {
	return "$KV." + r.kv.Bucket() + "." + retainedKey(topic)
}

// set stores (or, with an empty payload, clears) topic's retained message.
func (r *retained) set(ctx context.Context, topic string, payload []byte) error {
	key := retainedKey(topic)
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

// match returns the retained messages that filter matches: the
// bridge's pending ones, then the stored ones it has no pending value for.
// Live publishes them itself, at QoS 2 (as Server.Deliver does): each
// subscriber gets them at the QoS it was granted.
func (r *retained) match(filter string) []mqtt.Message {
	due := r.pending.matching(filter)
	var out []mqtt.Message
	add := func(topic string, payload []byte) {
		out = append(out, mqtt.Message{Topic: topic, Payload: payload, QoS: 2, Retain: true})
	}
	for t, p := range due {
		add(t, p)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m, ok := r.msgs[filter]; ok {
		if _, ok := due[filter]; !ok {
			add(filter, m.payload)
		}
		return out
	}
	for t, m := range r.msgs {
		if _, ok := due[t]; !ok && mqtt.Match(filter, t) {
			add(t, m.payload)
		}
	}
	return out
}

func (r *retained) close() {
	if r.w != nil {
		r.w.Stop()
	}
}
