package exchange

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/deadletter"
)

// A subscription's consumers (on its topic and on its redrive stream)
// carry the delivery limit retry.max_attempts. When the last attempt fails
// (its ack timeout passes, or a worker nacks it) the engine stops handing
// the event out and announces it; every process runs the dead-letter
// store's watcher, which hands each announcement to one of them, here.
// So the dead letter appears when the last attempt fails, whether or not
// anyone pulls again: a worker's nack of the last attempt nudges the
// consumer at once (pull.go), and every process looks every sweepEvery
// for consumers with events in flight and no pull waiting, and nudges
// them, so that an expired last attempt is given up within sweepEvery of
// its ack timeout (see deadletter.Nudge for why the engine needs this).
const (
	sweepEvery = 2 * time.Second
	maxNudges  = 256 // per sweep and process
)

// sweep nudges every subscription consumer (topics' and redrive streams')
// that may hold an expired last attempt.
func (x *Exchange) sweep(ctx context.Context) {
	n := 0
	visit := func(stream string) {
		st, err := x.js.Stream(ctx, stream)
		if err != nil {
			return
		}
		for ci := range st.ListConsumers(ctx).Info() {
			if n >= maxNudges || !strings.HasPrefix(ci.Name, "sub_") || ci.NumAckPending == 0 || ci.NumRedelivered == 0 ||
				ci.NumWaiting > 0 || ci.Config.PriorityPolicy != jetstream.PriorityPolicyNone {
				continue
			}
			n++
			if err := x.watch.Nudge(ctx, x.nc, stream, ci.Name); err != nil && ctx.Err() == nil {
				x.log.Debug("consumer not nudged", "stream", stream, "consumer", ci.Name, "error", err)
			}
		}
	}
	for _, t := range x.cfg.TopicNames() {
		visit(StreamName(t))
	}
	for si := range x.js.ListStreams(ctx, jetstream.WithStreamListSubject(RedriveSubject("*"))).Info() {
		if si.State.Msgs > 0 {
			visit(si.Config.Name)
		}
	}
}

// handleGivenUp stores the event a subscription's consumer gave up as its
// dead letter. Announcements of other consumers (sinks, plain NATS
// clients') are done with at once.
func (x *Exchange) handleGivenUp(ctx context.Context, a deadletter.Advisory) error {
	s, ok, err := x.subscriptionOf(ctx, a.Stream, a.Consumer)
	if err != nil || !ok {
		return err
	}
	st, err := x.js.Stream(ctx, a.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // the subscription (its redrive stream) is gone
	}
	if err != nil {
		return err
	}
	var event []byte
	seq := a.StreamSeq
	m, err := st.GetMsg(ctx, a.StreamSeq)
	switch {
	case err == nil:
		event, seq = m.Data, topicSeq(m.Header, a.StreamSeq)
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return err
	}
	dl := x.newDeadLetter(ctx, s, a.Stream, a.StreamSeq, seq, event, uint64(s.Retry.MaxAttempts), a.Time)
	if event == nil {
		dl.Error += " (the event had left the topic's stream before it was dead-lettered)"
	}
	_, fresh, err := x.dls.PutOnce(ctx, s.Name, a.MsgID(), dl)
	if err != nil {
		return err
	}
	if !fresh {
		return nil // handled already: the advisory seen live and kept by the stream
	}
	if a.Stream == RedriveStream(s.Name) {
		// A work queue keeps what nobody acknowledged: the letter holds it now.
		if err := st.DeleteMsg(ctx, a.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			x.log.Debug("redriven event not removed", "subscription", s.Name, "seq", a.StreamSeq, "error", err)
		}
	}
	x.deadLettered(ctx, s, a.Stream, a.StreamSeq, dl)
	return nil
}

// subscriptionOf finds the subscription whose consumer on stream is
// consumer. A consumer's metadata names its subscription, and the name is
// trusted only if the consumer's name is that subscription's (an HMAC of
// it): a plain NATS client may write any metadata on its own consumers.
func (x *Exchange) subscriptionOf(ctx context.Context, stream, consumer string) (Subscription, bool, error) {
	if !strings.HasPrefix(consumer, "sub_") {
		return Subscription{}, false, nil
	}
	name, isRedrive := strings.CutPrefix(stream, RedriveStream(""))
	if !isRedrive {
		c, err := x.js.Consumer(ctx, stream, consumer)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return Subscription{}, false, nil
		}
		if err != nil {
			return Subscription{}, false, err
		}
		name = c.CachedInfo().Config.Metadata["stadion.subscription"]
	}
	if name == "" || x.consumerName(name) != consumer {
		return Subscription{}, false, nil
	}
	s, err := x.loadSubscription(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Subscription{}, false, nil
	}
	if err != nil {
		return Subscription{}, false, err
	}
	if !isRedrive && stream != StreamName(s.Topic) {
		return Subscription{}, false, nil
	}
	return s, true, nil
}

// limitDeliveries gives the consumers of subscriptions made by an older
// binary (which had no delivery limit, and dead-lettered an event only
// when it was pulled once more) their limit, so that the watcher
// dead-letters their events too. It runs once at start; what it cannot
// update keeps the old way, which still works when someone pulls.
func (x *Exchange) limitDeliveries(ctx context.Context) {
	names, err := x.subs.ListKeys(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) {
			x.log.Warn("subscriptions not listed for their delivery limits", "error", err)
		}
		return
	}
	for name := range names.Keys() {
		s, err := x.loadSubscription(ctx, name)
		if err != nil {
			continue
		}
		for _, stream := range []string{StreamName(s.Topic), RedriveStream(s.Name)} {
			c, err := x.js.Consumer(ctx, stream, x.consumerName(s.Name))
			if err != nil {
				continue
			}
			cc := c.CachedInfo().Config
			if cc.MaxDeliver == s.Retry.MaxAttempts {
				continue
			}
			cc.MaxDeliver = s.Retry.MaxAttempts
			if _, err := x.js.UpdateConsumer(ctx, stream, cc); err != nil {
				x.log.Warn("delivery limit not set", "subscription", s.Name, "stream", stream, "error", err)
			}
		}
	}
}
