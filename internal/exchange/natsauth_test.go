package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// asyncErrs collects the errors a NATS connection reports asynchronously
// (permission violations).
type asyncErrs chan error

func (c asyncErrs) handler() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case c <- err:
		default:
		}
	})
}

// expectViolation waits for a permissions violation naming subject.
func (c asyncErrs) expectViolation(t *testing.T, subject string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-c:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
		case <-deadline:
			t.Fatalf("no permissions violation for %q", subject)
		}
	}
}

// The requests refused below time out after a short wait: the engine
// answers a permissions violation asynchronously, which is what the tests
// assert.
func TestPlainNATSSubscriber(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	rcs := publishLaps(h, pub, 3)
	h.mustPublish(pub, "notes", `"secret"`)

	errs := make(asyncErrs, 16)
	nc, err := h.natsConnect(nats.Token(sub), nats.CustomInboxPrefix(InboxPrefix("sub")), errs.handler())
	if err != nil {
		t.Fatalf("connect with a subscriber key: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("reads its topic through a durable consumer", func(t *testing.T) {
		cons, err := js.CreateOrUpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
			Durable: "sub-worker", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: SubjectFilter("laps"),
		})
		if err != nil {
			t.Fatalf("create consumer: %v", err)
		}
		batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for m := range batch.Messages() {
			got = append(got, parseEvent(t, m.Data()).ID)
			if err := m.DoubleAck(ctx); err != nil {
				t.Errorf("ack: %v", err)
			}
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
		if len(got) != 3 || got[0] != rcs[0].ID || got[2] != rcs[2].ID {
			t.Errorf("read %v, want the ids of %+v", got, rcs)
		}
	})

	t.Run("reads its topic with an ordered consumer and direct get", func(t *testing.T) {
		s, err := js.Stream(ctx, StreamName("laps"))
		if err != nil {
			t.Fatalf("stream info: %v", err)
		}
		m, err := s.GetMsg(ctx, 2)
		if err != nil {
			t.Fatalf("get message 2: %v", err)
		}
		if parseEvent(t, m.Data).ID != rcs[1].ID {
			t.Errorf("message 2 is %s", m.Data)
		}
		oc, err := js.OrderedConsumer(ctx, StreamName("laps"), jetstream.OrderedConsumerConfig{NamePrefix: "sub-ordered"})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("ordered consumer: %v", err)
		}
		if parseEvent(t, msg.Data()).ID != rcs[0].ID {
			t.Errorf("first message %s", msg.Data())
		}
	})

	t.Run("receives live events on core NATS", func(t *testing.T) {
		live, err := nc.SubscribeSync(SubjectFilter("laps"))
		if err != nil {
			t.Fatal(err)
		}
		defer live.Unsubscribe()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		rc := h.mustPublish(pub, "laps", goodLap)
		m, err := live.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "topic.laps.NOR-1" || parseEvent(t, m.Data).ID != rc.ID {
			t.Errorf("live message %s %s", m.Subject, m.Data)
		}
	})

	t.Run("cannot read another topic", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := js.Stream(short, StreamName("notes")); err == nil {
			t.Fatal("stream info of a topic the client does not subscribe to succeeded")
		}
		if _, err := js.CreateOrUpdateConsumer(short, StreamName("notes"), jetstream.ConsumerConfig{Durable: "sub-steal"}); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("consumer on a topic the client does not subscribe to: %v, want stream not found", err)
		}
		if _, err := nc.Request("$JS.API.DIRECT.GET.TOPIC_notes", []byte(`{"seq":1}`), time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("direct get on notes: %v, want no responders", err)
		}
		// Its account has no route to the topic's live events.
		s, err := nc.SubscribeSync(SubjectFilter("notes"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		h.mustPublish(pub, "notes", `"more"`)
		if m, err := s.NextMsg(300 * time.Millisecond); err == nil {
			t.Fatalf("a notes event reached the client: %s", m.Data)
		}
	})

	t.Run("cannot publish into topics", func(t *testing.T) {
		for _, subj := range []string{"topic.laps.x", "topic.notes.x"} {
			if err := nc.Publish(subj, []byte(`{"forged":true}`)); err != nil {
				t.Fatal(err)
			}
			errs.expectViolation(t, subj)
		}
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if _, err := js.Publish(short, "topic.laps.x", []byte(`{}`)); err == nil {
			t.Error("a JetStream publish into a topic was acknowledged")
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := h.stored("laps"); n != 4 {
			t.Errorf("laps holds %d events, want 4", n)
		}
		if n := h.stored("notes"); n != 2 {
			t.Errorf("notes holds %d events, want 2", n)
		}
	})

	t.Run("cannot delete streams or see others' replies", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := js.DeleteStream(short, StreamName("laps")); err == nil {
			t.Error("the stream was deleted")
		}
		if n := h.stored("laps"); n == 0 {
			t.Error("laps is empty")
		}
		// Subscribing to everything sees only what this client's own
		// account holds: another client's JetStream answers never arrive.
		all, err := nc.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		defer all.Unsubscribe()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		nc2, err := h.natsConnect(nats.Token(h.key("sub2")))
		if err != nil {
			t.Fatal(err)
		}
		defer nc2.Close()
		if _, err := nc2.Request("$JS.API.STREAM.INFO.TOPIC_laps", nil, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := all.NextMsg(300 * time.Millisecond)
			if err != nil {
				break
			}
			if !strings.HasPrefix(m.Subject, "topic.laps.") {
				t.Errorf("the client saw %s", m.Subject)
			}
		}
	})

	if err := nc.Flush(); err != nil || nc.Status() != nats.CONNECTED {
		t.Errorf("the connection did not survive the violations: %v %v", err, nc.Status())
	}
}

func TestPlainNATSRefused(t *testing.T) {
	h := newHarness(t)
	revoked, id := h.keyWithID("sub")
	if r := h.do("DELETE", "/v1/clients/sub/keys/"+id, h.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d", r.status)
	}
	for name, opts := range map[string][]nats.Option{
		"no token":      nil,
		"unknown token": {nats.Token("stk_0123456789abcdef_" + strings.Repeat("x", 43))},
		"garbage token": {nats.Token("hello")},
		"revoked key":   {nats.Token(revoked)},
		"user password": {nats.UserInfo("sub", "sub")},
	} {
		t.Run(name, func(t *testing.T) {
			h := h.as(t)
			nc, err := h.natsConnect(opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
				t.Errorf("error %v, want an authorization error", err)
			}
		})
	}

	// The admin key gets everything.
	nc, err := h.natsConnect(nats.Token(h.admin))
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Stream(ctx, StreamName("notes")); err != nil {
		t.Errorf("admin stream info: %v", err)
	}
}

// Another subscriber of the same topic cannot reach an HTTP subscription
// over plain NATS, even knowing its name: the consumer's name is secret.
func TestPlainNATSCannotTouchSubscriptions(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	if r := h.do("PUT", "/v1/subscriptions/board", sub, []byte(`{"topic":"laps","start":"earliest"}`)); r.status != http.StatusCreated {
		t.Fatalf("PUT subscription: %d %s", r.status, r.body)
	}
	publishLaps(h, pub, 2)

	errs := make(asyncErrs, 16)
	nc, err := h.natsConnect(nats.Token(h.key("sub2")), nats.CustomInboxPrefix(InboxPrefix("sub2")), errs.handler())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, guess := range []string{"board", "sub_board"} {
		if _, err := js.Consumer(ctx, StreamName("laps"), guess); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer %q: got %v, want not found", guess, err)
		}
	}
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	stream, err := js.Stream(ctx, StreamName("laps"))
	if err != nil {
		t.Fatal(err)
	}
	names := stream.ConsumerNames(short)
	for range names.Name() {
		t.Error("a plain NATS client listed consumer names")
	}
	if names.Err() == nil {
		t.Error("listing consumer names did not fail")
	}

	// The owner still gets every event through the subscription.
	var got struct {
		Events []Delivery `json:"events"`
	}
	r := h.do("POST", "/v1/subscriptions/board/pull", sub, []byte(`{"max":10,"wait":"2s"}`))
	if err := json.Unmarshal(r.body, &got); err != nil || len(got.Events) != 2 {
		t.Fatalf("pull: %d %s", r.status, r.body)
	}
}
