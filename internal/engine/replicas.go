package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Replication is how stadion's own streams, KV buckets and object stores
// are copied across the engine's nodes. It is applied in one place, the
// JetStream context the engine hands out, so that every capability (topics,
// dead letters, live, gate, capture, keys, subscriptions, sinks) gets it
// without knowing about it.
type Replication struct {
	// Replicas is the copy count: 1, 3 or 5 (0 means 1).
	Replicas int
	// PlacementTags pin every asset to nodes carrying all of them.
	PlacementTags []string
}

func (r Replication) replicas() int { return max(r.Replicas, 1) }

func (r Replication) placement() *jetstream.Placement {
	if len(r.PlacementTags) == 0 {
		return nil
	}
	return &jetstream.Placement{Tags: slices.Clone(r.PlacementTags)}
}

// replicated is the JetStream context every capability receives: creating
// or updating a stream, KV bucket or object store sets its replica count
// and placement, so an existing asset is scaled up (or down) when the
// setting changes (KV buckets and object stores are streams underneath and
// are updated through the same call). Mirrors and sources keep the count
// too: a replicated copy of a venue's scans survives a node like the rest.
type replicated struct {
	jetstream.JetStream
	r Replication
	// why explains a failed write (QuorumReason), or "".
	why func() string
}

// PublishMsg names the reason when a write fails because the cluster lost
// its quorum, so the 503 a client gets says so instead of "timeout".
func (j *replicated) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := j.JetStream.PublishMsg(ctx, m, opts...)
	return ack, j.explain(err)
}

// Publish is PublishMsg for a subject and payload.
func (j *replicated) Publish(ctx context.Context, subj string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := j.JetStream.Publish(ctx, subj, data, opts...)
	return ack, j.explain(err)
}

// Explainer is implemented by the JetStream context the engine hands out:
// Explain names the lost quorum in a failed write's error ("no quorum: 1
// of 3 nodes reachable ...") when that is why it failed. Writes that wait
// on their own (async publishes, KV puts) pass their error through it so
// their 503 says the same as a single publish's.
type Explainer interface {
	Explain(err error) error
}

// Explain is explain, for capabilities that await acks themselves.
func (j *replicated) Explain(err error) error { return j.explain(err) }

// Explain passes err through js's Explainer, if it has one.
func Explain(js jetstream.JetStream, err error) error {
	if x, ok := js.(Explainer); ok {
		return x.Explain(err)
	}
	return err
}

func (j *replicated) explain(err error) error {
	if err == nil || j.why == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code != 503 {
		return err // the engine answered: a real refusal, not a lost quorum
	}
	if why := j.why(); why != "" {
		return fmt.Errorf("%s: %w", why, err)
	}
	return err
}

var _ jetstream.JetStream = (*replicated)(nil)

func (j *replicated) stream(cfg jetstream.StreamConfig) jetstream.StreamConfig {
	cfg.Replicas = j.r.replicas()
	if cfg.Placement == nil {
		cfg.Placement = j.r.placement()
	}
	return cfg
}

func (j *replicated) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.Stream, error) {
		return j.JetStream.CreateStream(ctx, j.stream(cfg))
	})
}

func (j *replicated) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.Stream, error) {
		return j.JetStream.UpdateStream(ctx, j.stream(cfg))
	})
}

func (j *replicated) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.Stream, error) {
		return j.JetStream.CreateOrUpdateStream(ctx, j.stream(cfg))
	})
}

func (j *replicated) kv(cfg jetstream.KeyValueConfig) jetstream.KeyValueConfig {
	cfg.Replicas = j.r.replicas()
	if cfg.Placement == nil {
		cfg.Placement = j.r.placement()
	}
	return cfg
}

func (j *replicated) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		return j.JetStream.CreateKeyValue(ctx, j.kv(cfg))
	})
}

func (j *replicated) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		return j.JetStream.UpdateKeyValue(ctx, j.kv(cfg))
	})
}

func (j *replicated) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		return j.JetStream.CreateOrUpdateKeyValue(ctx, j.kv(cfg))
	})
}

func (j *replicated) obj(cfg jetstream.ObjectStoreConfig) jetstream.ObjectStoreConfig {
	cfg.Replicas = j.r.replicas()
	if cfg.Placement == nil {
		cfg.Placement = j.r.placement()
	}
	return cfg
}

func (j *replicated) CreateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return j.JetStream.CreateObjectStore(ctx, j.obj(cfg))
	})
}

func (j *replicated) UpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return j.JetStream.UpdateObjectStore(ctx, j.obj(cfg))
	})
}

func (j *replicated) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return j.JetStream.CreateOrUpdateObjectStore(ctx, j.obj(cfg))
	})
}

// Consumers are assets too: a node that has just restarted asks for its
// durable consumers while the stream it rejoins may still be electing a
// leader, and the engine does not answer until one is elected. The calls
// are retried as stream calls are; creating a consumer with the
// configuration it already has changes nothing, so a retry after a lost
// answer is harmless.

func (j *replicated) CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return j.JetStream.CreateOrUpdateConsumer(ctx, stream, cfg)
	})
}

func (j *replicated) CreateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return j.JetStream.CreateConsumer(ctx, stream, cfg)
	})
}

func (j *replicated) UpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	return retry(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		return j.JetStream.UpdateConsumer(ctx, stream, cfg)
	})
}

// AwaitAck waits for an asynchronous publish's acknowledgement, its
// failure, or the end of ctx.
func AwaitAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Asset calls are retried: when several nodes create the same stream at
// once (every stadion up does at start-up), the engine may leave all but
// one request unanswered, and a cluster electing a leader answers "temporarily
// unavailable". Each attempt is bounded, and all of them together to
// assetAttempts × assetAttempt; a real refusal is returned at once.
const (
	assetAttempt  = 5 * time.Second
	assetAttempts = 6
)

// Retry calls call as asset calls are retried: each attempt bounded, a
// transient failure (no answer, no leader yet while a cluster forms)
// tried again with a growing pause, a real error returned at once. Reads a
// service makes at start-up use it, since a replicated stream created a
// moment ago may not have elected its leader yet.
func Retry[T any](ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	return retry(ctx, call)
}

func retry[T any](ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	var v T
	var err error
	// The budget is time, not a count of attempts: an engine without a
	// leader may refuse at once ("temporarily unavailable", "insufficient
	// resources") as often as it leaves a request unanswered.
	deadline := time.Now().Add(assetAttempts * assetAttempt)
	for i := 1; ; i++ {
		actx, cancel := context.WithTimeout(ctx, assetAttempt)
		v, err = call(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) {
			return v, err
		}
		pause := min(time.Duration(100+rand.IntN(400))*time.Millisecond*time.Duration(i), 2*time.Second)
		if time.Now().Add(pause).After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(pause):
		}
	}
}

// transient reports whether an asset call may succeed when retried: no
// answer, or the engine's "temporarily unavailable" and "no suitable peers
// (yet)" while nodes join.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 || apiErr.ErrorCode == 10023 || apiErr.ErrorCode == 10005 // insufficient resources, no suitable peers
	}
	return false
}
