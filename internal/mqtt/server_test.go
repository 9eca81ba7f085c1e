package mqtt

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// pahoClient connects a real Paho client; msgs receives what its
// subscriptions get.
func pahoClient(t *testing.T, addr, id, password string, clean bool) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetKeepAlive(30 * time.Second)
	if password != "" {
		o.SetUsername(id).SetPassword(password)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func subscribe(t *testing.T, c paho.Client, filter string, qos byte) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 1000)
	tok := c.Subscribe(filter, qos, func(_ paho.Client, m paho.Message) { ch <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func receive(t *testing.T, ch <-chan paho.Message, want string) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		if string(m.Payload()) != want {
			t.Fatalf("got %q on %s, want %q", m.Payload(), m.Topic(), want)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received, want %q", want)
	}
	return nil
}

func TestPahoFanOut(t *testing.T) {
	_, addr := startHub(t, Options{})
	var subs []<-chan paho.Message
	for i := range 5 {
		c := pahoClient(t, addr, fmt.Sprintf("viewer-%d", i), "", true)
		subs = append(subs, subscribe(t, c, "room/+/comments", byte(i%2)))
	}
	pub := pahoClient(t, addr, "poster", "secret", true)
	for i := range 20 {
		publish(t, pub, "room/a/comments", byte(i%2), false, fmt.Sprintf("m%d", i))
	}
	for _, ch := range subs {
		for i := range 20 {
			receive(t, ch, fmt.Sprintf("m%d", i))
		}
	}
}

func TestRetainedMessages(t *testing.T) {
	_, addr := startHub(t, Options{})
	pub := pahoClient(t, addr, "mod", "secret", true)
	publish(t, pub, "room/a/pinned", 1, true, "welcome")
	v := pahoClient(t, addr, "late", "", true)
	m := receive(t, subscribe(t, v, "room/a/pinned", 1), "welcome")
	if !m.Retained() {
		t.Fatal("a retained message must arrive with the retain flag")
	}
}

func TestWillOnAbruptDisconnect(t *testing.T) {
	_, addr := startHub(t, Options{})
	watcher := pahoClient(t, addr, "watcher", "", true)
	wills := subscribe(t, watcher, "status/+", 0)

	r := dialRaw(t, addr)
	if code := r.connect(&Connect{ClientID: "cam", CleanSession: true, Username: "cam", Password: []byte("secret"), HasPassword: true,
		Will: &Message{Topic: "status/cam", Payload: []byte("gone")}}); code != Accepted {
		t.Fatalf("connack %d", code)
	}
	r.nc.Close()
	receive(t, wills, "gone")

	// A client that says DISCONNECT leaves no will.
	g := dialRaw(t, addr)
	g.connect(&Connect{ClientID: "polite", CleanSession: true, Username: "p", Password: []byte("secret"), HasPassword: true,
		Will: &Message{Topic: "status/polite", Payload: []byte("should not appear")}})
	g.write([]byte{typeDisconnect << 4, 0})
	g.expectClosed()
	publish(t, pahoClient(t, addr, "marker", "secret", true), "status/marker", 0, false, "after")
	receive(t, wills, "after")
}

func TestPersistentSessionGetsWhatItMissed(t *testing.T) {
	_, addr := startHub(t, Options{})
	v := pahoClient(t, addr, "phone", "", false)
	subscribe(t, v, "room/a/comments", 1)
	v.Disconnect(100)

	pub := pahoClient(t, addr, "poster", "secret", true)
	for i := range 3 {
		publish(t, pub, "room/a/comments", 1, false, fmt.Sprintf("missed-%d", i))
	}

	ch := make(chan paho.Message, 10)
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("phone").SetCleanSession(false).
		SetAutoReconnect(false).SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { ch <- m })
	back := paho.NewClient(o)
	tok := back.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("reconnect: %v", tok.Error())
	}
	defer back.Disconnect(100)
	if !tok.(*paho.ConnectToken).SessionPresent() {
		t.Fatal("the session must be present on return")
	}
	for i := range 3 {
		receive(t, ch, fmt.Sprintf("missed-%d", i))
	}
}

func TestTakeoverClosesTheOlderConnection(t *testing.T) {
	_, addr := startHub(t, Options{})
	old := dialRaw(t, addr)
	old.connect(&Connect{ClientID: "same", CleanSession: true})
	newer := dialRaw(t, addr)
	if code := newer.connect(&Connect{ClientID: "same", CleanSession: true}); code != Accepted {
		t.Fatalf("connack %d", code)
	}
	old.expectClosed()
}
