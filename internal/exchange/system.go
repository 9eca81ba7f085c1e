package exchange

import (
	"context"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
)

// Publish stores one event in a topic on behalf of a capability inside
// stadion (gate admissions, capture thumbnails), with the same schema check,
// envelope and durability as an HTTP publish. client names the envelope's
// source (/clients/<client>) and need not be a configured client. A
// non-empty dedupeID makes the write idempotent within the topic's window:
// a repeat returns the original receipt with Duplicate set.
func (x *Exchange) Publish(ctx context.Context, topicName, client string, data []byte, dedupeID string) (Receipt, error) {
	t, ok := x.topics[topicName]
	if !ok {
		return Receipt{}, fmt.Errorf("exchange: no topic %q in the configuration", topicName)
	}
	value, err := decodeValue(data)
	if err != nil {
		return Receipt{}, fmt.Errorf("exchange: event for %q: %w", topicName, err)
	}
	in := incoming{data: data, value: value}
	if fe := t.schema.Validate(value, ""); len(fe) > 0 {
		return Receipt{}, invalid(fe)
	}
	o, err := x.envelope(t, client, &in, time.Now().UTC(), "")
	if err != nil {
		return Receipt{}, api.BadRequest(err.Error())
	}
	if dedupeID != "" {
		o.msgID = client + ":sys:" + dedupeID
	}
	receipts, err := x.write(ctx, t, []outgoing{o})
	if err != nil {
		x.m.rejected.WithLabelValues(t.name, rejectReason(err)).Inc()
		return Receipt{}, err
	}
	return receipts[0], nil
}

// HasTopic reports whether the configuration declares topic name.
func (x *Exchange) HasTopic(name string) bool {
	_, ok := x.topics[name]
	return ok
}
