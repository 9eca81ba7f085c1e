package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startEngine(t *testing.T, o Options) (*Engine, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	o.DataDir = t.TempDir()
	o.SyncAlways = true
	o.MaxMemory, o.MaxDisk = 32<<20, 256<<20
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e, logs
}

// portOf returns the port of a nats:// or nats-leaf:// URL.
func portOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("URL %q: %v", raw, err)
	}
	return u.Port()
}

func TestPortZeroListenersResolve(t *testing.T) {
	e, _ := startEngine(t, Options{ClientAddr: "127.0.0.1:0", LeafAddr: "127.0.0.1:0"})
	for name, raw := range map[string]string{"client": e.ClientURL(), "leaf": e.LeafURL()} {
		port := portOf(t, raw)
		if port == "" || port == "0" || port == "-1" {
			t.Errorf("%s URL %q has no real port", name, raw)
			continue
		}
		// Something listens there.
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
		if err != nil {
			t.Errorf("%s listener %s: %v", name, raw, err)
			continue
		}
		c.Close()
	}
	if !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") || !strings.HasPrefix(e.LeafURL(), "nats-leaf://127.0.0.1:") {
		t.Errorf("URLs %q %q", e.ClientURL(), e.LeafURL())
	}
	if err := e.Ready(context.Background()); err != nil {
		t.Errorf("ready: %v", err)
	}
}

func TestNoListener(t *testing.T) {
	e, _ := startEngine(t, Options{})
	if e.ClientURL() != "" || e.LeafURL() != "" {
		t.Errorf("URLs %q %q without listeners", e.ClientURL(), e.LeafURL())
	}
	// The in-process connection works.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.JS.Publish(ctx, "t.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestBadAddresses(t *testing.T) {
	for _, o := range []Options{
		{ClientAddr: "no-port"},
		{ClientAddr: "127.0.0.1:99999"},
		{ClientAddr: "127.0.0.1:0", LeafAddr: "127.0.0.1:x"},
	} {
		o.DataDir = t.TempDir()
		o.Logger = slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
		e, err := Start(context.Background(), o)
		if err == nil {
			e.Stop(context.Background())
			t.Errorf("%+v: started", o)
		}
	}
}

// fakeAuth admits one token as client "reader", receiving "allowed.>".
type fakeAuth struct {
	mu    sync.Mutex
	calls []string
}

const (
	readerToken = "reader-secret-token-0123456789"
	quietToken  = "quiet-secret-token-0123456789"
)

func (a *fakeAuth) NATSAuthorize(token string) (Grant, bool) {
	a.mu.Lock()
	a.calls = append(a.calls, token)
	a.mu.Unlock()
	if token == quietToken {
		return Grant{Client: "quiet", KeyID: "k2"}, true
	}
	if token != readerToken {
		return Grant{}, false
	}
	return Grant{Client: "reader", KeyID: "k1", Receive: []string{"allowed.>"}, Streams: []string{"T"}}, true
}

func (a *fakeAuth) NATSAdmitted(Grant) {}

func TestOutsideClients(t *testing.T) {
	e, logs := startEngine(t, Options{ClientAddr: "127.0.0.1:0"})
	connect := func(opts ...nats.Option) (*nats.Conn, error) {
		opts = append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
		return nats.Connect(e.ClientURL(), opts...)
	}
	refused := func(t *testing.T, opts ...nats.Option) {
		t.Helper()
		nc, err := connect(opts...)
		if err == nil {
			nc.Close()
			t.Fatal("connected")
		}
		if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("error %v, want an authorization error", err)
		}
	}

	t.Run("before SetAuthorizer", func(t *testing.T) {
		refused(t)
		refused(t, nats.Token(readerToken))
	})

	auth := &fakeAuth{}
	e.SetAuthorizer(auth)

	t.Run("without a token", func(t *testing.T) { refused(t) })
	t.Run("with an unknown token", func(t *testing.T) { refused(t, nats.Token("wrong")) })
	t.Run("with a user and password", func(t *testing.T) { refused(t, nats.UserInfo("reader", "nope")) })

	t.Run("a client lives in its own account", func(t *testing.T) {
		violations := make(chan error, 8)
		nc, err := connect(nats.Token(readerToken),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer nc.Close()
		all, err := nc.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		spy, err := e.Conn.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		defer spy.Unsubscribe()
		flush(t, nc, e.Conn)

		// stadion's account delivers what the grant names, nothing else.
		for _, subj := range []string{"secret.x", "allowed.x"} {
			if err := e.Conn.Publish(subj, []byte(subj)); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := all.NextMsg(5 * time.Second); err != nil || m.Subject != "allowed.x" {
			t.Fatalf("first message in the client's account: %v %v", m, err)
		}
		// The client may publish only JetStream requests and acks.
		if err := nc.Publish("allowed.y", []byte("no")); err != nil {
			t.Fatal(err)
		}
		expectViolation(t, violations, "allowed.y")

		// A JetStream request reaches stadion's gateway subject with a
		// reply the server made, which leads back to the client's inbox
		// and nowhere else, whatever reply the client chose.
		if err := nc.PublishRequest("$JS.API.STREAM.NAMES", "allowed.forged", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		m := nextOn(t, spy, GatewayAPI+".reader.STREAM.NAMES")
		if !strings.HasPrefix(m.Reply, "_R_.") {
			t.Fatalf("gateway request reply %q, want a _R_. subject", m.Reply)
		}
		if err := e.Conn.Publish(m.Reply, []byte("answer")); err != nil {
			t.Fatal(err)
		}
		got := nextOn(t, all, "allowed.forged")
		if string(got.Data) != "answer" {
			t.Fatalf("answer %q", got.Data)
		}
		for {
			m, err := spy.NextMsg(200 * time.Millisecond)
			if err != nil {
				break
			}
			if m.Subject == "allowed.forged" {
				t.Fatal("the answer was published in stadion's account")
			}
		}
	})

	t.Run("a client reads granted consumers only", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowDirect: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.JS.Publish(ctx, "t.1", []byte("one")); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"reader-c", "sink-x"} {
			if _, err := e.JS.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
		}
		violations := make(chan error, 8)
		nc, err := connect(nats.Token(readerToken),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := js.Stream(ctx, "T"); err != nil || s.CachedInfo().State.Msgs != 1 {
			t.Fatalf("stream info of a readable stream: %v", err)
		}
		if s, err := js.Stream(ctx, "T"); err != nil {
			t.Fatal(err)
		} else if m, err := s.GetLastMsgForSubject(ctx, "t.1"); err != nil || string(m.Data) != "one" {
			t.Fatalf("direct get: %v", err)
		}
		next := func(consumer string) (*nats.Msg, error) {
			return nc.Request("$JS.API.CONSUMER.MSG.NEXT.T."+consumer, []byte(`{"batch":1,"expires":2000000000}`), 3*time.Second)
		}
		if _, err := next("reader-c"); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("pull before the grant: %v, want no responders", err)
		}
		if _, err := e.GrantConsumer("reader", "T", "reader-c"); err != nil {
			t.Fatal(err)
		}
		m, err := next("reader-c")
		if err != nil || string(m.Data) != "one" || !strings.HasPrefix(m.Reply, "$JS.ACK.T.reader-c.") {
			t.Fatalf("pull after the grant: %v %v", m, err)
		}
		if err := nc.Publish(m.Reply, []byte("+ACK")); err != nil {
			t.Fatal(err)
		}
		eventuallyTrue(t, "the ack reached the consumer", func() bool {
			c, err := e.JS.Consumer(ctx, "T", "reader-c")
			return err == nil && c.CachedInfo().AckFloor.Stream == 1
		})
		if _, err := next("sink-x"); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("pull from a consumer not granted: %v", err)
		}
		// The granted prefix cannot be used directly.
		if err := nc.PublishRequest("stadion.grant.next.T.sink-x", "_INBOX.direct", []byte(`{"batch":1}`)); err != nil {
			t.Fatal(err)
		}
		expectViolation(t, violations, "stadion.refused.grant.next.T.sink-x")
		if err := nc.Publish("$JS.ACK.T.sink-x.1.1.1.1.0", []byte("+ACK")); err != nil {
			t.Fatal(err)
		}
		if got := e.ConsumerGrants("reader"); len(got) != 1 || got[0] != "T.reader-c" {
			t.Errorf("grants %v", got)
		}
		e.RevokeConsumer("reader", "T", "reader-c")
		if _, err := next("reader-c"); !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("pull after revoking the grant: %v", err)
		}
		c, err := e.JS.Consumer(ctx, "T", "sink-x")
		if err != nil || c.CachedInfo().NumPending != 1 || c.CachedInfo().AckFloor.Stream != 0 {
			t.Errorf("the consumer not granted was touched: %+v %v", c.CachedInfo(), err)
		}
	})

	t.Run("a revoked key's connections close", func(t *testing.T) {
		closed := make(chan struct{})
		nc, err := connect(nats.Token(readerToken), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if n := e.CloseKey("reader", "k1"); n < 1 {
			t.Errorf("CloseKey closed %d connections", n)
		}
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatal("the connection stayed open")
		}
	})

	t.Run("the internal connection has every right", func(t *testing.T) {
		sub, err := e.Conn.SubscribeSync(">")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := e.Conn.Publish("anything.at.all", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	})

	auth.mu.Lock()
	calls := len(auth.calls)
	auth.mu.Unlock()
	if calls == 0 {
		t.Error("the authorizer was never asked")
	}
	if strings.Contains(logs.String(), readerToken) {
		t.Error("a token appears in the engine's log")
	}
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func flush(t *testing.T, conns ...*nats.Conn) {
	t.Helper()
	for _, nc := range conns {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// nextOn returns the next message of sub on subject, skipping others.
func nextOn(t *testing.T, sub *nats.Subscription, subject string) *nats.Msg {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		if m.Subject == subject {
			return m
		}
	}
	t.Fatalf("no message on %s", subject)
	return nil
}

func expectViolation(t *testing.T, errs <-chan error, subject string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
		case <-deadline:
			t.Fatalf("no permissions violation for %q", subject)
		}
	}
}

func TestStopMakesUnavailable(t *testing.T) {
	e, _ := startEngine(t, Options{ClientAddr: "127.0.0.1:0"})
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := e.Ready(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ready after Stop: %v, want ErrUnavailable", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(e.ClientURL(), "nats://"), time.Second); err == nil && e.ClientURL() != "" {
		t.Error("the client port still accepts connections after Stop")
	}
}

// A client flooding pull requests is cut off once the engine holds too
// many routes back to client inboxes; a quiet client stays.
func TestClientFloodCut(t *testing.T) {
	e, _ := startEngine(t, Options{ClientAddr: "127.0.0.1:0"})
	e.SetAuthorizer(&fakeAuth{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.JS.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "reader-c", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	nc, err := nats.Connect(e.ClientURL(), nats.Token(readerToken), nats.MaxReconnects(0),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := e.GrantConsumer("reader", "T", "reader-c"); err != nil {
		t.Fatal(err)
	}
	quiet, err := nats.Connect(e.ClientURL(), nats.Token(quietToken), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	if _, err := nc.SubscribeSync("_INBOX.flood"); err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.T.reader-c", "_INBOX.flood", []byte(`{"batch":1,"no_wait":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "the routes to be counted", func() bool {
		e.checkClientLoad(1000)
		return e.ClientsCut() > 0
	})
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the flooding client is still connected")
	}
	eventuallyTrue(t, "its routes to go", func() bool {
		e.checkClientLoad(1000)
		return e.PendingResponses() == 0
	})
	if err := quiet.Flush(); err != nil || !quiet.IsConnected() {
		t.Errorf("the quiet client was cut too: %v", err)
	}
}
