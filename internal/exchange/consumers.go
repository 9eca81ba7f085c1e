package exchange

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// secretKey is the entry of the subscriptions bucket holding the key that
// names subscriptions' consumers. Subscription names cannot start with
// '_', so it never collides with one.
const secretKey = "_consumer-key"

// Subscriptions are capabilities. A plain NATS client of a topic may use
// any consumer on the topic's stream it can name (its own durables, ordered
// consumers), but it cannot list consumer names and NATS never lets it
// publish to a wildcard. So an HTTP subscription's consumer is named by an
// HMAC of the subscription name under a secret kept in the engine: only
// stadion, and the owner through its ack ids, ever learn it, and no other
// client can pull, ack or delete someone else's subscription.
func (x *Exchange) consumerName(sub string) string {
	m := hmac.New(sha256.New, x.consumerKey)
	m.Write([]byte(sub))
	return "sub_" + hex.EncodeToString(m.Sum(nil)[:16])
}

// consumer returns the engine consumer of subscription s; a consumer that
// is gone is a 404.
func (x *Exchange) consumer(ctx context.Context, s Subscription) (jetstream.Consumer, error) {
	c, err := x.js.Consumer(ctx, StreamName(s.Topic), x.consumerName(s.Name))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, api.NotFound(fmt.Sprintf("subscription %q has lost its consumer; PUT it again", s.Name))
	}
	if err != nil {
		return nil, engineErr(err)
	}
	return c, nil
}

// loadSecret reads the consumer key, creating it on first start; replicas
// racing to create it all end up with the winner's.
func loadSecret(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	return engine.SharedValue(ctx, kv, secretKey, fresh)
}
