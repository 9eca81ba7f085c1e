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

// fakeAuth admits one token as client "reader" with narrow permissions.
type fakeAuth struct {
	mu    sync.Mutex
	calls []string
}

const readerToken = "reader-secret-token-0123456789"

func (a *fakeAuth) NATSAuthorize(token string) (string, *Permissions, bool) {
	a.mu.Lock()
	a.calls = append(a.calls, token)
	a.mu.Unlock()
	if token != readerToken {
		return "", nil, false
	}
	return "reader", &Permissions{
		Publish:   []string{"allowed.>"},
		Subscribe: []string{"allowed.>", "_INBOX_reader.>"},
	}, true
}

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

	t.Run("token maps to permissions", func(t *testing.T) {
		violations := make(chan error, 8)
		nc, err := connect(nats.Token(readerToken), nats.CustomInboxPrefix("_INBOX_reader"),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer nc.Close()
		sub, err := nc.SubscribeSync("allowed.>")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("allowed.x", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
			t.Fatalf("allowed subject: %v %v", m, err)
		}

		// Denied publish: stadion's own connection must not see it.
		spy, err := e.Conn.SubscribeSync("denied.>")
		if err != nil {
			t.Fatal(err)
		}
		defer spy.Unsubscribe()
		if err := e.Conn.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish("denied.x", []byte("no")); err != nil {
			t.Fatal(err)
		}
		expectViolation(t, violations, "denied.x")
		if m, err := spy.NextMsg(200 * time.Millisecond); err == nil {
			t.Errorf("a denied publish arrived: %s", m.Data)
		}
		if _, err := nc.SubscribeSync("secret.>"); err != nil {
			t.Fatal(err)
		}
		expectViolation(t, violations, "secret.>")
		if _, err := nc.SubscribeSync("_INBOX.>"); err != nil {
			t.Fatal(err)
		}
		expectViolation(t, violations, "_INBOX.>")
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
