package live

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// watchedConfig lets any room in, and raises the subscription caps so
// that one session may hold thousands of filters.
const watchedConfig = `
clients:
  app: {roles: [live-issuer]}
  studio: {roles: [live-moderator]}
live:
  rooms: ["*"]
  anonymous_read: true
  mqtt: {max_subscriptions: 5000, max_session_subscriptions: 5000}
`

// lostClient connects with Paho and reports the connection's loss.
func lostClient(t *testing.T, broker, id, user, password string) (paho.Client, <-chan struct{}) {
	t.Helper()
	lost := make(chan struct{})
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	if password != "" {
		o.SetUsername(user).SetPassword(password)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, lost
}

func connectErr(broker, id, user, password string) error {
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetAutoReconnect(false).SetConnectRetry(false).
		SetUsername(user).SetPassword(password)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("timeout")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// TestWatchedFiltersCostNoGoroutine subscribes one persistent session to
// 2,000 distinct retained-topic filters: the process's goroutines do not
// grow with them, during the session nor after it went offline, and the
// filters still deliver.
func TestWatchedFiltersCostNoGoroutine(t *testing.T) {
	h := newHarness(t, watchedConfig)
	base := runtime.NumGoroutine()
	o := paho.NewClientOptions().AddBroker("tcp://" + h.mqtt).SetClientID("hoarder").SetCleanSession(false).
		SetAutoReconnect(false)
	got := make(chan paho.Message, 10)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	const n = 2000
	for i := 0; i < n; i += 500 {
		fs := map[string]byte{}
		for j := i; j < i+500; j++ {
			fs[fmt.Sprintf("live/room%d/pinned", j)] = 0
		}
		tok := c.SubscribeMultiple(fs, func(_ paho.Client, m paho.Message) { got <- m })
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
	}
	if w := watchedCount(h.s); w < n {
		t.Fatalf("%d filters watched, want %d", w, n)
	}
	if g := runtime.NumGoroutine(); g > base+50 {
		t.Fatalf("%d goroutines for %d watched filters (%d before)", g, n, base)
	}
	if code := h.do("PUT", "/v1/live/room1234/pinned", h.key("studio"), map[string]string{"text": "hi"}, nil); code != 204 {
		t.Fatalf("pin: %d", code)
	}
	if m := next(t, got); m.Topic() != "live/room1234/pinned" {
		t.Fatalf("got %s", m.Topic())
	}
	c.Disconnect(50)
	if g := runtime.NumGoroutine(); g > base+50 {
		t.Fatalf("%d goroutines held by an offline session (%d before)", g, base)
	}
}

func watchedCount(s *Service) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watched)
}

// TestSubscriptionCapFromConfig refuses filters past live.mqtt's cap in
// the SUBACK.
func TestSubscriptionCapFromConfig(t *testing.T) {
	h := newHarness(t, `
live:
  rooms: ["*"]
  anonymous_read: true
  mqtt: {max_subscriptions: 3}
`)
	c := pahoConnect(t, "tcp://"+h.mqtt, "v", "")
	fs := map[string]byte{}
	for i := range 5 {
		fs[fmt.Sprintf("live/r%d/comments", i)] = 0
	}
	tok := c.SubscribeMultiple(fs, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	refused := 0
	for _, code := range tok.(*paho.SubscribeToken).Result() {
		if code == 0x80 {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d filters refused, want 2", refused)
	}
}

// TestRevokedViewerIsDisconnectedEverywhere revokes a viewer through one
// process: the viewer's connection to the other process closes within a
// second, its token is refused at CONNECT and over HTTP, another viewer
// stays, and a token minted afterwards works.
func TestRevokedViewerIsDisconnectedEverywhere(t *testing.T) {
	a := newHarness(t, testConfig)
	b := startHarness(t, a.s.cfg, a.eng)
	old := a.token("troll", "Troll")
	_, lost := lostClient(t, "tcp://"+b.mqtt, "troll-phone", "troll", old)
	bystander, keep := lostClient(t, "tcp://"+b.mqtt, "fan-phone", "fan", a.token("fan", "Fan"))

	var out struct {
		User  string    `json:"user"`
		Until time.Time `json:"until"`
	}
	if code := a.do("POST", "/v1/live/revocations", a.key("studio"), map[string]string{"user": "troll"}, nil); code != 403 {
		t.Fatalf("a moderator revoked a viewer: %d", code)
	}
	start := time.Now()
	if code := a.do("POST", "/v1/live/revocations", a.key("app"), map[string]string{"user": "troll"}, &out); code != 201 || out.User != "troll" {
		t.Fatalf("revoke: %d %+v", code, out)
	}
	select {
	case <-lost:
		if d := time.Since(start); d > time.Second {
			t.Fatalf("closed after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked viewer's connection to the other process stayed open")
	}
	for _, h := range []*harness{a, b} {
		if err := connectErr("tcp://"+h.mqtt, "troll-2", "troll", old); err == nil {
			t.Fatal("a revoked token connected")
		}
	}
	if code := a.do("POST", "/v1/live/curling/comments", old, map[string]string{"text": "hello"}, nil); code != 401 {
		t.Fatalf("a revoked token posted over HTTP: %d", code)
	}
	select {
	case <-keep:
		t.Fatal("another viewer was disconnected")
	default:
	}
	if !bystander.IsConnectionOpen() {
		t.Fatal("another viewer was disconnected")
	}
	time.Sleep(2 * time.Millisecond) // tokens carry milliseconds: the next one is issued after the revocation
	if err := connectErr("tcp://"+b.mqtt, "troll-3", "troll", a.token("troll", "Troll")); err != nil {
		t.Fatalf("a token issued after the revocation: %v", err)
	}
}

// TestRevokedModeratorKeyCannotPin closes the MQTT connection of a
// moderator key revoked on another process, so it pins nothing more, and
// its will (a pin) is not published.
func TestRevokedModeratorKeyCannotPin(t *testing.T) {
	a := newHarness(t, testConfig)
	b := startHarness(t, a.s.cfg, a.eng)
	key, rec, err := a.keys.Create(context.Background(), "studio")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the other process knows the key", func() bool { _, err := b.keys.Lookup(key); return err == nil })
	lost := make(chan struct{})
	o := paho.NewClientOptions().AddBroker("tcp://"+b.mqtt).SetClientID("desk").SetAutoReconnect(false).
		SetUsername("studio").SetPassword(key).SetWill("live/curling/pinned", `{"text":"will"}`, 1, true).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	mod := paho.NewClient(o)
	if tok := mod.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer mod.Disconnect(0)
	if tok := mod.Publish("live/curling/pinned", 1, true, `{"text":"first"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("pin: %v", tok.Error())
	}
	start := time.Now()
	if err := a.keys.Revoke(context.Background(), "studio", rec.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
		if d := time.Since(start); d > time.Second {
			t.Fatalf("closed after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked key's MQTT connection stayed open")
	}
	if err := connectErr("tcp://"+b.mqtt, "desk", "studio", key); err == nil {
		t.Fatal("a revoked key connected")
	}
	viewer := pahoConnect(t, "tcp://"+a.mqtt, "v", "")
	pinned := pahoSubscribe(t, viewer, "live/curling/pinned")
	if m := next(t, pinned); string(m.Payload()) != `{"text":"first"}` {
		t.Fatalf("pinned is %s: the revoked key's will was published", m.Payload())
	}
}
