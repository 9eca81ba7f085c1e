package exchange

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsClient connects a plain NATS client with key and its JetStream.
func (h *harness) natsClient(key string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, asyncErrs) {
	h.t.Helper()
	errs := make(asyncErrs, 16)
	nc, err := h.natsConnect(append([]nats.Option{nats.Token(key), errs.handler()}, opts...)...)
	if err != nil {
		h.t.Fatalf("nats connect: %v", err)
	}
	h.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		h.t.Fatal(err)
	}
	return nc, js, errs
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A consumer stadion made (as a sink does: sink-<name>, a predictable
// name) is out of a subscriber's reach: it cannot be read, pulled, acked,
// changed or deleted over plain NATS.
func TestNATSGateSinkConsumer(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	pub := h.key("pub")
	publishLaps(h, pub, 3)
	if _, err := h.eng.JS.CreateOrUpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
		Durable: "sink-x", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: SubjectFilter("laps"),
	}); err != nil {
		t.Fatal(err)
	}
	nc, js, _ := h.natsClient(h.key("sub"))

	if _, err := js.Consumer(ctx, StreamName("laps"), "sink-x"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer info: %v, want not found", err)
	}
	if err := js.DeleteConsumer(ctx, StreamName("laps"), "sink-x"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("delete: %v, want not found", err)
	}
	if _, err := js.UpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
		Durable: "sink-x", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "topic.laps.nobody",
	}); err == nil {
		t.Error("the sink's consumer was updated")
	}
	if _, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.TOPIC_laps.sink-x", []byte(`{"batch":3,"expires":1000000000}`), 3*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("pull: %v, want no responders", err)
	}
	for seq := 1; seq <= 3; seq++ {
		ack := "$JS.ACK.TOPIC_laps.sink-x.1." + itoa(seq) + "." + itoa(seq) + ".1700000000000000000.0"
		if err := nc.Publish(ack, []byte("+ACK")); err != nil {
			t.Fatal(err)
		}
	}
	// The server has handled the acks once the flush returns: without a
	// grant they are routed nowhere.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := h.eng.JS.Consumer(ctx, StreamName("laps"), "sink-x")
	if err != nil {
		t.Fatal(err)
	}
	info := c.CachedInfo()
	if info.NumPending != 3 || info.AckFloor.Stream != 0 || info.Delivered.Stream != 0 || info.Config.FilterSubject != SubjectFilter("laps") {
		t.Errorf("the sink's consumer changed: pending %d, ack floor %d, delivered %d, filter %s",
			info.NumPending, info.AckFloor.Stream, info.Delivered.Stream, info.Config.FilterSubject)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A client may own at most exchange.nats_consumers_per_client consumers;
// another client is not affected by its reaching the cap.
func TestNATSGateConsumerCap(t *testing.T) {
	h := newHarnessWith(t, strings.Replace(testConfig, "max_body: 4KiB", "max_body: 4KiB\n  nats_consumers_per_client: 3", 1))
	ctx := testCtx(t)
	_, js, _ := h.natsClient(h.key("sub"))
	create := func(js jetstream.JetStream, name string) error {
		_, err := js.CreateOrUpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
			Durable: name, AckPolicy: jetstream.AckExplicitPolicy,
		})
		return err
	}
	for _, name := range []string{"sub-1", "sub-2", "sub-3"} {
		if err := create(js, name); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if err := create(js, "sub-4"); !errors.Is(err, jetstream.ErrMaximumConsumersLimit) {
		t.Fatalf("fourth consumer: %v, want the consumers limit", err)
	}
	if err := create(js, "sub-1"); err != nil {
		t.Errorf("updating an existing consumer at the cap: %v", err)
	}
	_, js2, _ := h.natsClient(h.key("sub2"))
	if err := create(js2, "sub2-1"); err != nil {
		t.Errorf("another client at the first one's cap: %v", err)
	}
	if err := js.DeleteConsumer(ctx, StreamName("laps"), "sub-1"); err != nil {
		t.Fatal(err)
	}
	if err := create(js, "sub-4"); err != nil {
		t.Errorf("create after a delete: %v", err)
	}
	c, err := h.eng.JS.Consumer(ctx, StreamName("laps"), "sub-4")
	if err != nil || c.CachedInfo().Config.Metadata[ownerMeta] != "sub" {
		t.Errorf("the consumer's owner is not stamped: %v", err)
	}
}

// Consumers are pull consumers whose names and filters are the client's:
// no deliver subject, whatever the spelling of the field.
func TestNATSGateConsumerConfig(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	nc, js, _ := h.natsClient(h.key("sub"))
	spy, err := h.eng.Conn.SubscribeSync("mq.live.>")
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Unsubscribe()
	if err := h.eng.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	h.mustPublish(h.key("pub"), "laps", goodLap)

	for name, body := range map[string]string{
		"deliver_subject":  `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","deliver_subject":"mq.live.room.comments"}}`,
		"DELIVER_SUBJECT":  `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","DELIVER_SUBJECT":"mq.live.room.comments"}}`,
		"deliver_group":    `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","deliver_group":"g"}}`,
		"other filter":     `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","filter_subject":"topic.notes.>"}}`,
		"wide filter":      `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","filter_subject":">"}}`,
		"filters":          `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","filter_subjects":["topic.laps.>","topic.*.>"]}}`,
		"other stream":     `{"stream_name":"TOPIC_notes","config":{"name":"sub-push"}}`,
		"other name":       `{"stream_name":"TOPIC_laps","config":{"name":"sink-push"}}`,
		"duplicated key":   `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","deliver_subject":"","deliver_subject":"mq.live.room.comments"}}`,
		"not json":         `{"stream_name":`,
		"sourcing":         `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","direct":true}}`,
		"heartbeat (push)": `{"stream_name":"TOPIC_laps","config":{"name":"sub-push","idle_heartbeat":1000000000}}`,
	} {
		t.Run(name, func(t *testing.T) {
			m, err := nc.Request("$JS.API.CONSUMER.CREATE.TOPIC_laps.sub-push", []byte(body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(m.Data), `"error"`) {
				t.Fatalf("accepted: %s", m.Data)
			}
		})
	}
	if _, err := h.eng.JS.Consumer(ctx, StreamName("laps"), "sub-push"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("a refused consumer exists: %v", err)
	}
	if m, err := spy.NextMsg(300 * time.Millisecond); err == nil {
		t.Errorf("a message reached %s", m.Subject)
	}
	// The legacy form without a name is refused (names are bound to clients).
	if m, err := nc.Request("$JS.API.CONSUMER.CREATE.TOPIC_laps", []byte(`{"stream_name":"TOPIC_laps","config":{}}`), 5*time.Second); err != nil || !strings.Contains(string(m.Data), `"error"`) {
		t.Errorf("unnamed consumer: %v %s", err, m.Data)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
		Name: "sub-pull", FilterSubjects: []string{"topic.laps.NOR-1", "topic.laps.SWE-2"},
	}); err != nil {
		t.Errorf("a pull consumer with filters on its topic: %v", err)
	}
}

// JetStream answers and deliveries reach the client's own account only,
// whatever reply subject it chooses.
func TestNATSGateRepliesStayInAccount(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	publishLaps(h, h.key("pub"), 2)
	nc, js, errs := h.natsClient(h.key("sub"))
	spy, err := h.eng.Conn.SubscribeSync("mq.live.>")
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Unsubscribe()
	own, err := nc.SubscribeSync("mq.live.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(h.eng.Conn.Flush(), nc.Flush()); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
		Durable: "sub-r", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	reply := "mq.live.room.comments"
	for subj, body := range map[string]string{
		"$JS.API.DIRECT.GET.TOPIC_laps":              `{"seq":1}`,
		"$JS.API.CONSUMER.MSG.NEXT.TOPIC_laps.sub-r": `{"batch":1,"expires":1000000000}`,
		"$JS.API.STREAM.INFO.TOPIC_laps":             ``,
		"$JS.API.STREAM.NAMES":                       ``,
		"$JS.API.CONSUMER.INFO.TOPIC_laps.sub-r":     ``,
	} {
		if err := nc.PublishRequest(subj, reply, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := own.NextMsg(5 * time.Second); err != nil {
			t.Errorf("%s: no answer in the client's own account: %v", subj, err)
		}
	}
	if m, err := spy.NextMsg(300 * time.Millisecond); err == nil {
		t.Errorf("an answer reached stadion's account on %s", m.Subject)
	}
	// Replies the engine reserves for its own routing are refused.
	for _, r := range []string{"$JS.ACK.TOPIC_laps.sub-r.1.1.1.1.0", "_R_.abc.def"} {
		if err := nc.PublishRequest("$JS.API.DIRECT.GET.TOPIC_laps", r, []byte(`{"seq":1}`)); err != nil {
			t.Fatal(err)
		}
		errs.expectViolation(t, r)
	}
	// The consumer still works for its owner.
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Errorf("ack: %v", err)
		}
		n++
	}
	if n == 0 {
		t.Error("the owner read nothing")
	}
}

// STREAM.NAMES, STREAM.LIST and INFO show only the client's topics.
func TestNATSGateListsStreams(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	_, js, _ := h.natsClient(h.key("sub"))
	var names []string
	lister := js.StreamNames(ctx)
	for n := range lister.Name() {
		names = append(names, n)
	}
	if lister.Err() != nil {
		t.Fatal(lister.Err())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"TOPIC_laps", "TOPIC_roster"}) {
		t.Errorf("stream names %v", names)
	}
	var listed []string
	infos := js.ListStreams(ctx)
	for info := range infos.Info() {
		listed = append(listed, info.Config.Name)
	}
	if infos.Err() != nil || len(listed) != 2 {
		t.Errorf("stream list %v %v", listed, infos.Err())
	}
	filtered := js.StreamNames(ctx, jetstream.WithStreamListSubject("topic.roster.>"))
	var got []string
	for n := range filtered.Name() {
		got = append(got, n)
	}
	if !slices.Equal(got, []string{"TOPIC_roster"}) {
		t.Errorf("filtered names %v", got)
	}
	ai, err := js.AccountInfo(ctx)
	if err != nil || ai.Streams != 2 {
		t.Errorf("account info %+v %v", ai, err)
	}
}

// Revoking a key closes its NATS connections at once; another key of the
// same client keeps its connection.
func TestNATSGateRevokedKey(t *testing.T) {
	h := newHarness(t)
	key, id := h.keyWithID("sub")
	closed := make(chan struct{})
	nc, _, _ := h.natsClient(key, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	other, _, _ := h.natsClient(h.key("sub"))
	if r := h.do("DELETE", "/v1/clients/sub/keys/"+id, h.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d", r.status)
	}
	select {
	case <-closed:
	case <-time.After(time.Second):
		t.Fatalf("the connection of a revoked key is still %v after 1s", nc.Status())
	}
	if err := other.Flush(); err != nil || !other.IsConnected() {
		t.Errorf("the other key's connection: %v", err)
	}
}

func TestConsumerOwner(t *testing.T) {
	x := &Exchange{clientsByLength: clientNamesByLength([]string{"a", "a-b", "screens", "b"})}
	for name, want := range map[string]string{
		"a-x": "a", "a-b-x": "a-b", "a-bx": "a", "screens-results": "screens",
		"sink-x": "", "sub_0123": "", "a": "", "b-": "b", "ab-x": "", "X1abc_1": "",
	} {
		if got := x.consumerOwner(name); got != want {
			t.Errorf("owner of %q = %q, want %q", name, got, want)
		}
	}
}

// A client's consumers that exist before its account is made on an engine
// (made through another replica, or before a restart) are granted when it
// first connects, so it can pull without asking for them first.
func TestNATSGateGrantsOwnedConsumersOnConnect(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	publishLaps(h, h.key("pub"), 1)
	for _, name := range []string{"sub-early", "sub2-early"} {
		if _, err := h.eng.JS.CreateOrUpdateConsumer(ctx, StreamName("laps"), jetstream.ConsumerConfig{
			Durable: name, AckPolicy: jetstream.AckExplicitPolicy,
		}); err != nil {
			t.Fatal(err)
		}
	}
	nc, _, _ := h.natsClient(h.key("sub"))
	eventually(t, 5*time.Second, "a pull on the client's existing consumer", func() bool {
		m, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.TOPIC_laps.sub-early", []byte(`{"batch":1,"expires":1000000000}`), 3*time.Second)
		return err == nil && len(m.Data) > 0
	})
	if _, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.TOPIC_laps.sub2-early", []byte(`{"batch":1,"expires":1000000000}`), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("pull on another client's consumer: %v, want no responders", err)
	}
}
