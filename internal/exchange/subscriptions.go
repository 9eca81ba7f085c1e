package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// subsBucket maps subscription names to their definitions. The consumer
// itself is a durable JetStream consumer on the topic's stream, named like
// the subscription, so any number of workers (and stadion replicas) share it.
const subsBucket = "stadion-subscriptions"

// Subscription is a durable, shared, at-least-once reader of a topic.
type Subscription struct {
	Name    string    `json:"name"`
	Topic   string    `json:"topic"`
	Start   string    `json:"start"`
	AckWait string    `json:"ack_wait"`
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
	// Retry is when failed events are tried again and when they are
	// dead-lettered.
	Retry RetryPolicy `json:"retry"`
	// Push, when set, makes stadion POST the events to a webhook instead
	// of workers pulling them.
	Push *Push `json:"push,omitempty"`
}

// SubscriptionStatus is a subscription with its consumer's counters.
type SubscriptionStatus struct {
	Subscription
	Pending     uint64 `json:"pending"`      // events not yet delivered
	AckPending  int    `json:"ack_pending"`  // delivered, awaiting ack
	Redelivered int    `json:"redelivered"`  // delivered more than once, awaiting ack
	Waiting     int    `json:"waiting_pull"` // pull requests waiting
	AckFloor    uint64 `json:"ack_floor_seq"`
}

type putSubscription struct {
	Topic   string       `json:"topic"`
	Start   string       `json:"start"`
	AckWait string       `json:"ack_wait"`
	Retry   *RetryPolicy `json:"retry"`
	Push    *pushRequest `json:"push"`
}

const defaultAckWait = 30 * time.Second

// errUnreadable is a stored subscription that does not decode.
var errUnreadable = errors.New("stored definition is unreadable")

func (x *Exchange) handlePutSubscription(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !config.ValidName(name) {
		return api.BadRequest("subscription names are 1-64 lower-case letters, digits, '-' or '_'")
	}
	var req putSubscription
	if err := api.DecodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	sub, cc, err := x.subscriptionFor(r, name, req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	existing, err := x.loadSubscription(ctx, name)
	switch {
	case err == nil:
		if err := x.authorizeSub(r, existing); err != nil {
			return err
		}
		if existing.Topic != sub.Topic {
			return conflict(fmt.Sprintf("subscription %q reads topic %q; delete it first to reuse the name", name, existing.Topic))
		}
		if (existing.Push == nil) != (sub.Push == nil) {
			return conflict(fmt.Sprintf("subscription %q cannot switch between pull and push; delete it first", name))
		}
		if sub.Push != nil && sub.Push.Secret == "" {
			sub.Push.Secret = existing.Push.Secret // a PUT need not repeat it
		}
		sub.Created, sub.Start, sub.Owner = existing.Created, existing.Start, existing.Owner
		cc.Metadata["stadion.owner"] = existing.Owner
		cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = existing.deliverPolicy()
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return engineErr(err)
	}
	if sub.Push != nil && sub.Push.Secret == "" {
		return api.BadRequest("push.secret is required: whsec_ followed by the base64 of 24-64 random bytes")
	}
	if _, err := x.js.CreateOrUpdateConsumer(ctx, StreamName(sub.Topic), cc); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.Code == http.StatusBadRequest {
			return api.BadRequest("the engine refused the subscription: " + apiErr.Description)
		}
		return engineErr(err)
	}
	if err := x.ensureSubStreams(ctx, name, cc); err != nil {
		return engineErr(err)
	}
	if err := x.storeSubscription(ctx, sub); err != nil {
		return err
	}
	status := http.StatusCreated
	if existing.Name != "" {
		status = http.StatusOK
	}
	api.WriteJSON(w, status, sub.redacted())
	return nil
}

// subscriptionFor validates a PUT body into a definition and its consumer.
func (x *Exchange) subscriptionFor(r *http.Request, name string, req putSubscription) (Subscription, jetstream.ConsumerConfig, error) {
	t, ok := x.topics[req.Topic]
	if !ok {
		return Subscription{}, jetstream.ConsumerConfig{}, api.BadRequest(fmt.Sprintf("topic: there is no topic %q", req.Topic))
	}
	p, _ := api.PrincipalFrom(r.Context())
	if !t.cfg.CanSubscribe(p.Client) {
		return Subscription{}, jetstream.ConsumerConfig{}, api.Forbidden(fmt.Sprintf("client %q is not a subscriber of topic %q", p.Client, t.name))
	}
	if req.Start == "" {
		req.Start = "latest"
	}
	ackWait := defaultAckWait
	if req.AckWait != "" {
		d, err := time.ParseDuration(req.AckWait)
		if err != nil || d < time.Second || d > 12*time.Hour {
			return Subscription{}, jetstream.ConsumerConfig{}, api.BadRequest("ack_wait must be a duration from 1s to 12h")
		}
		ackWait = d
	}
	retry, err := parseRetry(req.Retry)
	if err != nil {
		return Subscription{}, jetstream.ConsumerConfig{}, err
	}
	push, err := x.parsePush(req.Push)
	if err != nil {
		return Subscription{}, jetstream.ConsumerConfig{}, err
	}

	if push != nil {
		// A webhook call is the whole of the work: the engine takes the
		// event back if the pushing replica dies mid-call.
		ackWait = push.timeout() + 5*time.Second
	}
	sub := Subscription{Name: name, Topic: t.name, Start: req.Start, AckWait: ackWait.String(), Owner: p.Client, Created: time.Now().UTC(), Retry: retry, Push: push}
	policy, seq, at, err := parseStart(req.Start)
	if err != nil {
		return Subscription{}, jetstream.ConsumerConfig{}, err
	}
	// The delivery limit is the last attempt: when it fails the engine
	// gives the event up and announces it, and the dead-letter watcher
	// stores it (deadletter_watch.go), whether or not anyone pulls again.
	backOff := retry.backOff(ackWait)
	cc := jetstream.ConsumerConfig{
		Durable: x.consumerName(name), Description: "stadion subscription " + name,
		FilterSubject: SubjectFilter(t.name), AckPolicy: jetstream.AckExplicitPolicy, AckWait: backOff[0],
		BackOff: backOff, MaxDeliver: retry.MaxAttempts,
		MaxAckPending: 10000, DeliverPolicy: policy, OptStartSeq: seq, OptStartTime: at,
		Metadata: map[string]string{"stadion.subscription": name, "stadion.owner": p.Client},
	}
	if push != nil && push.OrderedByKey {
		cc.PriorityPolicy, cc.PriorityGroups, cc.PinnedTTL = jetstream.PriorityPolicyPinned, []string{pushGroup}, 30*time.Second
	}
	return sub, cc, nil
}

// parseStart reads earliest | latest | seq:N | time:RFC3339.
func parseStart(s string) (jetstream.DeliverPolicy, uint64, *time.Time, error) {
	kind, arg, _ := strings.Cut(s, ":")
	switch kind {
	case "earliest":
		return jetstream.DeliverAllPolicy, 0, nil, nil
	case "latest":
		return jetstream.DeliverNewPolicy, 0, nil, nil
	case "seq":
		n, err := strconv.ParseUint(arg, 10, 64)
		if err == nil && n > 0 {
			return jetstream.DeliverByStartSequencePolicy, n, nil, nil
		}
	case "time":
		t, err := time.Parse(time.RFC3339Nano, arg)
		if err == nil {
			return jetstream.DeliverByStartTimePolicy, 0, &t, nil
		}
	}
	return 0, 0, nil, api.BadRequest(`start must be "earliest", "latest", "seq:N" (N ≥ 1) or "time:RFC3339"`)
}

// deliverPolicy repeats the original start: the engine does not allow a
// durable consumer's start to change.
func (s Subscription) deliverPolicy() (jetstream.DeliverPolicy, uint64, *time.Time) {
	p, seq, t, _ := parseStart(s.Start)
	return p, seq, t
}

func conflict(detail string) *api.Problem {
	return api.NewProblem(http.StatusConflict, "conflict", "Conflict", detail)
}

func (x *Exchange) loadSubscription(ctx context.Context, name string) (Subscription, error) {
	e, err := x.subs.Get(ctx, name)
	if err != nil {
		return Subscription{}, err
	}
	var s Subscription
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		// The decoder's message quotes the bytes it choked on: keep them
		// out of the error, which may reach a client.
		return Subscription{}, fmt.Errorf("subscription %s: %w", name, errUnreadable)
	}
	if s.Retry.MaxAttempts == 0 { // stored before retry policies
		s.Retry, _ = parseRetry(nil)
	}
	return s, nil
}

func (x *Exchange) storeSubscription(ctx context.Context, s Subscription) error {
	val, _ := json.Marshal(s)
	if _, err := x.subs.Put(ctx, s.Name, val); err != nil {
		return engineErr(err)
	}
	return nil
}

// subscription loads the subscription named in the path, checking that
// the caller owns it (or is admin) and may still read its topic.
func (x *Exchange) subscription(r *http.Request) (Subscription, error) {
	name := r.PathValue("name")
	if !config.ValidName(name) {
		// Reserved entries of the bucket (the consumer key) are not
		// subscriptions, whoever asks.
		return Subscription{}, api.NotFound(fmt.Sprintf("there is no subscription %q", name))
	}
	s, err := x.loadSubscription(r.Context(), name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return s, api.NotFound(fmt.Sprintf("there is no subscription %q", name))
	}
	if err != nil {
		return s, engineErr(err)
	}
	return s, x.authorizeSub(r, s)
}

func (x *Exchange) authorizeSub(r *http.Request, s Subscription) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Admin() {
		return nil
	}
	t, ok := x.topics[s.Topic]
	if s.Owner != p.Client || !ok || !t.cfg.CanSubscribe(p.Client) {
		return api.Forbidden(fmt.Sprintf("subscription %q belongs to another client", s.Name))
	}
	return nil
}

func (x *Exchange) handleGetSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	st, err := x.status(r.Context(), s)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (x *Exchange) status(ctx context.Context, s Subscription) (SubscriptionStatus, error) {
	ci, err := x.consumer(ctx, s)
	if err != nil {
		return SubscriptionStatus{}, err
	}
	info := ci.CachedInfo()
	return SubscriptionStatus{
		Subscription: s.redacted(), Pending: info.NumPending, AckPending: info.NumAckPending,
		Redelivered: info.NumRedelivered, Waiting: info.NumWaiting, AckFloor: info.AckFloor.Stream,
	}, nil
}

func (x *Exchange) handleListSubscriptions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p, _ := api.PrincipalFrom(ctx)
	names, err := x.subs.ListKeys(ctx)
	if err != nil {
		return engineErr(err)
	}
	out := []SubscriptionStatus{}
	for name := range names.Keys() {
		if !config.ValidName(name) { // reserved entries (the consumer key)
			continue
		}
		s, err := x.loadSubscription(ctx, name)
		if err != nil || (!p.Admin() && s.Owner != p.Client) {
			continue
		}
		st, err := x.status(ctx, s)
		if err != nil {
			return err
		}
		out = append(out, st)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
	return nil
}

func (x *Exchange) handleDeleteSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := x.js.DeleteConsumer(ctx, StreamName(s.Topic), x.consumerName(s.Name)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return engineErr(err)
	}
	if err := x.subs.Delete(ctx, s.Name); err != nil {
		return engineErr(err)
	}
	if err := x.dropSubStreams(ctx, s.Name); err != nil {
		return engineErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
