package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/client"
)

// The attacks of issue 10 rows 2-5 and the NATS part of row 10, run
// against the real binary with only a subscriber's key over plain NATS.
// Beside each, a legitimate plain-NATS reader of the same topic (board)
// must receive every event.

// natsisoUp starts stadion with the isolation tests' configuration.
func natsisoUp(t *testing.T) *proc {
	t.Helper()
	return startProc(t, t.TempDir(), "--config", "testdata/natsiso/stadion.yaml")
}

// natsisoURL is the engine's client URL of p.
func natsisoURL(t *testing.T, p *proc) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data, client.EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ep client.Endpoints
	if err := json.Unmarshal(raw, &ep); err != nil || ep.NATS == "" {
		t.Fatalf("endpoints %s: %v", raw, err)
	}
	return ep.NATS
}

// natsisoConnect connects a plain NATS client with key, with the inbox
// prefix earlier versions required of client screens (harmless for others).
func natsisoConnect(t *testing.T, p *proc, key string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts = append([]nats.Option{nats.Token(key), nats.MaxReconnects(0), nats.Timeout(5 * time.Second),
		nats.CustomInboxPrefix("_INBOX_screens")}, opts...)
	nc, err := nats.Connect(natsisoURL(t, p), opts...)
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func natsisoCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// natsisoPublish publishes laps n..n+count-1, one athlete each.
func natsisoPublish(t *testing.T, p *proc, key string, from, count int) {
	t.Helper()
	var batch []string
	for i := from; i < from+count; i++ {
		batch = append(batch, fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":%d}`, i, i, 60000+i))
	}
	if code := p.request("POST", "/v1/topics/laps/events", key, "["+strings.Join(batch, ",")+"]", nil); code != 202 {
		t.Fatalf("publish: %d", code)
	}
}

// natsisoReader is the legitimate plain-NATS reader: the README's
// durable consumer, counting the distinct events it receives.
type natsisoReader struct {
	mu   sync.Mutex
	seen map[string]bool
	cc   jetstream.ConsumeContext
}

func natsisoStartReader(t *testing.T, p *proc) *natsisoReader {
	t.Helper()
	_, js := natsisoConnect(t, p, p.createKey("board"), nats.CustomInboxPrefix("_INBOX_board"))
	cons, err := js.CreateOrUpdateConsumer(natsisoCtx(t), "TOPIC_laps", jetstream.ConsumerConfig{
		Durable: "board-results", FilterSubject: "topic.laps.>", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("the legitimate reader's consumer: %v", err)
	}
	r := &natsisoReader{seen: map[string]bool{}}
	r.cc, err = cons.Consume(func(m jetstream.Msg) {
		var ev struct{ ID string }
		_ = json.Unmarshal(m.Data(), &ev)
		r.mu.Lock()
		r.seen[ev.ID] = true
		r.mu.Unlock()
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.cc.Stop)
	return r
}

func (r *natsisoReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// waitCount polls until the reader has n events (bounded).
func (r *natsisoReader) waitCount(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the legitimate reader got %d of %d events", r.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAttackNATSDrainsSinkConsumer(t *testing.T) {
	p := natsisoUp(t)
	ctx := natsisoCtx(t)
	timing := p.createKey("timing")
	reader := natsisoStartReader(t, p)
	nc, js := natsisoConnect(t, p, p.createKey("screens"))
	const sinkConsumer = "sink-laps-db"
	const n = 40

	natsisoPublish(t, p, timing, 0, n/2)
	// Everything an attacker does to the sink's durable consumer.
	if _, err := js.Consumer(ctx, "TOPIC_laps", sinkConsumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer info of the sink: %v, want not found", err)
	}
	for range 3 {
		if m, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.TOPIC_laps."+sinkConsumer, []byte(`{"batch":100,"expires":1000000000}`), 3*time.Second); err == nil {
			t.Fatalf("pulled from the sink's consumer: %s", m.Data)
		}
	}
	for seq := 1; seq <= n/2; seq++ {
		ack := fmt.Sprintf("$JS.ACK.TOPIC_laps.%s.1.%d.%d.1700000000000000000.0", sinkConsumer, seq, seq)
		if err := nc.Publish(ack, []byte("+ACK")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.UpdateConsumer(ctx, "TOPIC_laps", jetstream.ConsumerConfig{
		Durable: sinkConsumer, FilterSubject: "topic.laps.nobody", AckPolicy: jetstream.AckExplicitPolicy,
	}); err == nil {
		t.Error("the sink's consumer was updated")
	}
	if err := js.DeleteConsumer(ctx, "TOPIC_laps", sinkConsumer); err == nil {
		t.Error("the sink's consumer was deleted")
	}
	natsisoPublish(t, p, timing, n/2, n/2)

	// The sink writes every event and reports its lag truly.
	db := filepath.Join(p.data, "laps.db")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Lag         uint64 `json:"lag"`
			RowsWritten uint64 `json:"rows_written"`
		}
		code := p.request("GET", "/v1/sinks/laps-db", p.admin, "", &st)
		if code == 200 && st.Lag == 0 && countRows(t, db, "") == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink: %d, lag %d, %d rows of %d", code, st.Lag, countRows(t, db, ""), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	reader.waitCount(t, n)
}

func TestAttackNATSExhaustsTopicConsumers(t *testing.T) {
	p := natsisoUp(t)
	ctx := natsisoCtx(t)
	timing := p.createKey("timing")
	reader := natsisoStartReader(t, p)
	_, js := natsisoConnect(t, p, p.createKey("screens"))

	made := 0
	var refused error
	for i := range 1000 {
		_, err := js.CreateOrUpdateConsumer(ctx, "TOPIC_laps", jetstream.ConsumerConfig{
			Name: fmt.Sprintf("screens-%d", i), AckPolicy: jetstream.AckExplicitPolicy,
		})
		if err != nil {
			refused = err
			break
		}
		made++
	}
	if made != 16 || !errors.Is(refused, jetstream.ErrMaximumConsumersLimit) {
		t.Fatalf("made %d consumers before %v; want 16, then the consumers limit", made, refused)
	}
	// Names outside the client's own are refused too.
	if _, err := js.CreateOrUpdateConsumer(ctx, "TOPIC_laps", jetstream.ConsumerConfig{Name: "anything"}); err == nil {
		t.Error("a consumer named outside screens-… was made")
	}

	// Other clients on the topic are unaffected: a new subscription, an
	// SSE stream and the plain-NATS reader.
	board := p.createKey("board")
	if code := p.request("PUT", "/v1/subscriptions/wall", board, `{"topic":"laps","start":"earliest"}`, nil); code != 201 {
		t.Errorf("new subscription beside the attack: %d", code)
	}
	events := make(chan string, 8)
	sseCtx, stop := context.WithCancel(ctx)
	defer stop()
	req, _ := http.NewRequestWithContext(sseCtx, "GET", p.http+"/v1/topics/laps/stream", nil)
	req.Header.Set("Authorization", "Bearer "+board)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("SSE beside the attack: %v %v", err, resp)
	}
	defer resp.Body.Close()
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				events <- line
			}
		}
	}()
	natsisoPublish(t, p, timing, 0, 5)
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Error("the SSE stream received nothing")
	}
	reader.waitCount(t, 5)
	var pulled struct {
		Events []json.RawMessage `json:"events"`
	}
	if code := p.request("POST", "/v1/subscriptions/wall/pull", board, `{"max":10,"wait":"5s"}`, &pulled); code != 200 || len(pulled.Events) == 0 {
		t.Errorf("pull beside the attack: %d, %d events", code, len(pulled.Events))
	}
}

func TestAttackNATSPushConsumerIntoLiveRoom(t *testing.T) {
	p := natsisoUp(t)
	ctx := natsisoCtx(t)
	timing := p.createKey("timing")
	reader := natsisoStartReader(t, p)
	const room = "mq.live.final.comments"

	// Witnesses: an anonymous MQTT viewer of the room and an admin NATS
	// subscriber in stadion's own account.
	seen := make(chan string, 64)
	o := paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID("viewer").SetAutoReconnect(false)
	viewer := paho.NewClient(o)
	if tok := viewer.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("viewer connect: %v", tok.Error())
	}
	defer viewer.Disconnect(50)
	if tok := viewer.Subscribe("live/final/comments", 0, func(_ paho.Client, m paho.Message) {
		seen <- "mqtt: " + string(m.Payload())
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("viewer subscribe: %v", tok.Error())
	}
	admin, _ := natsisoConnect(t, p, p.admin)
	spy, err := admin.Subscribe(room, func(m *nats.Msg) { seen <- "nats: " + string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Unsubscribe()
	if err := admin.Flush(); err != nil {
		t.Fatal(err)
	}
	natsisoPublish(t, p, timing, 0, 5)

	nc, js := natsisoConnect(t, p, p.createKey("screens"))
	// A push consumer delivering the topic into the room.
	for _, body := range []string{
		`{"stream_name":"TOPIC_laps","config":{"name":"screens-push","deliver_subject":"` + room + `","ack_policy":"none"}}`,
		`{"stream_name":"TOPIC_laps","config":{"name":"screens-push","Deliver_Subject":"` + room + `","ack_policy":"none"}}`,
	} {
		m, err := nc.Request("$JS.API.CONSUMER.CREATE.TOPIC_laps.screens-push", []byte(body), 5*time.Second)
		if err != nil || !strings.Contains(string(m.Data), `"error"`) {
			t.Fatalf("push consumer into the room: %v %s", err, m.Data)
		}
	}
	if m, err := nc.Request("$JS.API.CONSUMER.CREATE.TOPIC_laps", []byte(`{"stream_name":"TOPIC_laps","config":{"deliver_subject":"`+room+`"}}`), 3*time.Second); err == nil && !strings.Contains(string(m.Data), `"error"`) {
		t.Fatalf("an unnamed push consumer was made: %s", m.Data)
	}
	// Pulls and direct gets answered "to" the room.
	if _, err := js.CreateOrUpdateConsumer(ctx, "TOPIC_laps", jetstream.ConsumerConfig{Durable: "screens-pull", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	own, err := nc.SubscribeSync(room)
	if err != nil {
		t.Fatal(err)
	}
	for subj, body := range map[string]string{
		"$JS.API.CONSUMER.MSG.NEXT.TOPIC_laps.screens-pull": `{"batch":5,"expires":1000000000}`,
		"$JS.API.DIRECT.GET.TOPIC_laps":                     `{"seq":1}`,
		"$JS.API.STREAM.MSG.GET.TOPIC_laps":                 `{"seq":2}`,
	} {
		if err := nc.PublishRequest(subj, room, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	// The answers land in the attacker's own account...
	for range 3 {
		if _, err := own.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("answers in the attacker's own account: %v", err)
		}
	}
	// The subject LIVE_COMMENTS stores and republishes to viewers takes
	// neither a publish nor an answer from a client.
	const stored = "live.comments.final"
	ownStored, err := nc.SubscribeSync(stored)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(stored, []byte(`{"id":"forged","room":"final","user":"x","name":"X","text":"forged"}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("$JS.API.DIRECT.GET.TOPIC_laps", stored, []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ownStored.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("an answer to %s in the attacker's own account: %v", stored, err)
	}
	// ...and nowhere a viewer or stadion could see them.
	natsisoPublish(t, p, timing, 5, 5)
	reader.waitCount(t, 10)
	select {
	case m := <-seen:
		t.Fatalf("the room received %s", m)
	default:
	}
	admJS, _ := jetstream.New(admin)
	stream, err := admJS.Stream(ctx, "TOPIC_laps")
	if err != nil {
		t.Fatal(err)
	}
	if comments, err := admJS.Stream(ctx, "LIVE_COMMENTS"); err != nil {
		t.Fatal(err)
	} else if n := comments.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("LIVE_COMMENTS holds %d messages, none posted", n)
	}
	infos := stream.ListConsumers(ctx)
	for info := range infos.Info() {
		if info.Config.DeliverSubject != "" {
			t.Errorf("a push consumer %s exists, delivering to %s", info.Name, info.Config.DeliverSubject)
		}
	}
}

func TestAttackNATSListsStreams(t *testing.T) {
	p := natsisoUp(t)
	ctx := natsisoCtx(t)
	reader := natsisoStartReader(t, p)
	_, js := natsisoConnect(t, p, p.createKey("screens"))
	var names []string
	lister := js.StreamNames(ctx)
	for n := range lister.Name() {
		names = append(names, n)
	}
	if lister.Err() != nil || !slices.Equal(names, []string{"TOPIC_laps"}) {
		t.Errorf("STREAM.NAMES shows %v (%v), want only TOPIC_laps", names, lister.Err())
	}
	var listed []string
	infos := js.ListStreams(ctx)
	for info := range infos.Info() {
		listed = append(listed, info.Config.Name)
	}
	if infos.Err() != nil || !slices.Equal(listed, []string{"TOPIC_laps"}) {
		t.Errorf("STREAM.LIST shows %v (%v), want only TOPIC_laps", listed, infos.Err())
	}
	if ai, err := js.AccountInfo(ctx); err != nil || ai.Streams != 1 {
		t.Errorf("account info: %+v %v", ai, err)
	}
	// The admin sees the system's streams, so the filter did something.
	_, adm := natsisoConnect(t, p, p.admin)
	all := 0
	for range adm.StreamNames(ctx).Name() {
		all++
	}
	if all <= 1 {
		t.Errorf("the admin sees %d streams", all)
	}
	natsisoPublish(t, p, p.createKey("timing"), 0, 3)
	reader.waitCount(t, 3)
}

func TestAttackNATSRevokedKeyKeepsReading(t *testing.T) {
	p := natsisoUp(t)
	ctx := natsisoCtx(t)
	timing := p.createKey("timing")
	reader := natsisoStartReader(t, p)
	var created struct{ Key, ID string }
	if code := p.request("POST", "/v1/clients/screens/keys", p.admin, "", &created); code != 201 {
		t.Fatalf("key: %d", code)
	}
	closed := make(chan struct{})
	_, js := natsisoConnect(t, p, created.Key, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	cons, err := js.CreateOrUpdateConsumer(ctx, "TOPIC_laps", jetstream.ConsumerConfig{Durable: "screens-r", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { _ = m.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	natsisoPublish(t, p, timing, 0, 3)
	if code := p.request("DELETE", "/v1/clients/screens/keys/"+created.ID, p.admin, "", nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	revoked := time.Now()
	select {
	case <-closed:
		t.Logf("closed %v after the revocation answered", time.Since(revoked).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatal("the revoked key's NATS connection is open 1s after the revocation")
	}
	if _, err := nats.Connect(natsisoURL(t, p), nats.Token(created.Key), nats.MaxReconnects(0)); err == nil {
		t.Error("the revoked key connected again")
	}
	natsisoPublish(t, p, timing, 3, 3)
	reader.waitCount(t, 6)
}
