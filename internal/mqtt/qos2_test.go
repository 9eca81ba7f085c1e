package mqtt

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// expect reads the next packet and checks its fixed header and body.
func (r *rawClient) expect(header byte, body []byte) {
	r.t.Helper()
	h, b, err := r.read()
	if err != nil || h != header || string(b) != string(body) {
		r.t.Fatalf("got header %#x body %x (%v), want %#x %x", h, b, err, header, body)
	}
}

func idBody(id uint16) []byte { return []byte{byte(id >> 8), byte(id)} }

func login(id string, clean bool) *Connect {
	return &Connect{ClientID: id, CleanSession: clean, Username: "u-" + id, Password: []byte("secret"), HasPassword: true}
}

// countingHub counts what reaches Client.Publish per payload.
func countingHub(t *testing.T, o Options) (*hub, string, func(string) int) {
	h, addr := startHub(t, o)
	var mu sync.Mutex
	seen := map[string]int{}
	h.mu.Lock()
	h.onPublish = func(m Message) {
		mu.Lock()
		seen[string(m.Payload)]++
		mu.Unlock()
	}
	h.mu.Unlock()
	return h, addr, func(p string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[p]
	}
}

// TestInboundQoS2ExactlyOnce: a PUBLISH QoS 2 is answered with PUBREC;
// a retransmission with DUP before PUBREL is answered again but not
// handed to the hooks twice; PUBREL gets PUBCOMP and frees the id, so
// that a new message with the same id is handed on.
func TestInboundQoS2ExactlyOnce(t *testing.T) {
	_, addr, count := countingHub(t, Options{})
	r := dialRaw(t, addr)
	r.connect(login("p", true))
	m := Message{Topic: "room/a/post", Payload: []byte("once"), QoS: 2}
	r.write(AppendPublish(nil, m, false, 7))
	r.expect(typePubrec<<4, idBody(7))
	r.write(AppendPublish(nil, m, true, 7))
	r.expect(typePubrec<<4, idBody(7))
	r.write(pubrel(7))
	r.expect(typePubcomp<<4, idBody(7))
	if n := count("once"); n != 1 {
		t.Fatalf("handed on %d times, want 1", n)
	}
	// A PUBREL for an id already released is still answered.
	r.write(pubrel(7))
	r.expect(typePubcomp<<4, idBody(7))
	m.Payload = []byte("again")
	r.write(AppendPublish(nil, m, false, 7))
	r.expect(typePubrec<<4, idBody(7))
	if n := count("again"); n != 1 {
		t.Fatalf("a new message on a released id handed on %d times, want 1", n)
	}
}

// TestInboundQoS2SurvivesReconnect: a persistent session keeps the ids
// awaiting PUBREL, so a client that resends the PUBLISH with DUP after
// reconnecting does not get it handed on twice.
func TestInboundQoS2SurvivesReconnect(t *testing.T) {
	_, addr, count := countingHub(t, Options{})
	r := dialRaw(t, addr)
	r.connect(login("p", false))
	m := Message{Topic: "room/a/post", Payload: []byte("once"), QoS: 2}
	r.write(AppendPublish(nil, m, false, 9))
	r.expect(typePubrec<<4, idBody(9))
	r.nc.Close()
	back := dialRaw(t, addr)
	back.connect(login("p", false))
	back.write(AppendPublish(nil, m, true, 9))
	back.expect(typePubrec<<4, idBody(9))
	back.write(pubrel(9))
	back.expect(typePubcomp<<4, idBody(9))
	if n := count("once"); n != 1 {
		t.Fatalf("handed on %d times, want 1", n)
	}
}

// TestInboundQoS2Bound: more QoS 2 messages awaiting PUBREL than
// MaxInflight close the connection.
func TestInboundQoS2Bound(t *testing.T) {
	h, addr, _ := countingHub(t, Options{MaxInflight: 3})
	r := dialRaw(t, addr)
	r.connect(login("p", true))
	for id := uint16(1); id <= 3; id++ {
		r.write(AppendPublish(nil, Message{Topic: "x/y", Payload: []byte("p"), QoS: 2}, false, id))
		r.expect(typePubrec<<4, idBody(id))
	}
	r.write(AppendPublish(nil, Message{Topic: "x/y", Payload: []byte("p"), QoS: 2}, false, 4))
	r.expectClosed()
	if h.srv.Stats().InflightFull.Load() != 1 {
		t.Fatal("the close was not counted")
	}
}

// TestOutboundQoS2Flow: a QoS 2 subscriber gets a QoS 2 message with
// PUBLISH, answers PUBREC, gets PUBREL, answers PUBCOMP; the message
// then leaves the session. Delivered QoS is the lower of the publish's
// and the grant.
func TestOutboundQoS2Flow(t *testing.T) {
	h, addr := startHub(t, Options{})
	s := dialRaw(t, addr)
	s.connect(login("s", true))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "room/a/comments", QoS: 2}))
	s.expect(typeSuback<<4, []byte{0, 1, 2})
	p := dialRaw(t, addr)
	p.connect(login("p", true))
	for _, q := range []byte{2, 1, 0} {
		p.write(AppendPublish(nil, Message{Topic: "room/a/comments", Payload: []byte{'0' + q}, QoS: q}, false, 100+uint16(q)))
	}
	s.expect(0x34, append([]byte{0, 15}, append([]byte("room/a/comments"), 0, 1, '2')...))
	s.expect(0x32, append([]byte{0, 15}, append([]byte("room/a/comments"), 0, 2, '1')...))
	s.expect(0x30, append([]byte{0, 15}, append([]byte("room/a/comments"), '0')...))
	s.write(ackPacket(typePubrec, 1))
	s.expect(typePubrel<<4|0x02, idBody(1))
	s.write(ackPacket(typePubcomp, 1))
	s.write(ackPacket(typePuback, 2))
	waitFor(t, 5*time.Second, "the session is empty", func() bool {
		h.srv.mu.Lock()
		sess := h.srv.sessions[sessionKey("u-s", "s")]
		h.srv.mu.Unlock()
		sess.mu.Lock()
		defer sess.mu.Unlock()
		return len(sess.inflight) == 0 && len(sess.order) == 0
	})
}

// TestRedeliveryOnReconnect is issue 11's scenario: a persistent
// subscriber stops acknowledging with two QoS 1 messages in flight,
// disconnects and reconnects: both come again, in order, with DUP set,
// before anything newer. A QoS 2 message already PUBREC'd is resumed
// with PUBREL, one not yet PUBREC'd with PUBLISH and DUP.
func TestRedeliveryOnReconnect(t *testing.T) {
	_, addr := startHub(t, Options{})
	s := dialRaw(t, addr)
	s.connect(login("phone", false))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "q1/#", QoS: 1}, Filter{Topic: "q2/#", QoS: 2}))
	s.expect(typeSuback<<4, []byte{0, 1, 1, 2})
	p := dialRaw(t, addr)
	p.connect(login("poster", true))
	pub := func(topic string, qos byte, id uint16) {
		p.write(AppendPublish(nil, Message{Topic: topic, Payload: []byte(topic), QoS: qos}, false, id))
	}
	pkt := func(topic string, qos byte, dup bool, id uint16) []byte {
		return AppendPublish(nil, Message{Topic: topic, Payload: []byte(topic), QoS: qos}, dup, id)
	}
	expectPkt := func(r *rawClient, want []byte) {
		t.Helper()
		r.expect(want[0], want[2:])
	}
	pub("q1/a", 1, 1)
	pub("q1/b", 1, 2)
	pub("q2/c", 2, 3)
	pub("q2/d", 2, 4)
	expectPkt(s, pkt("q1/a", 1, false, 1))
	expectPkt(s, pkt("q1/b", 1, false, 2))
	expectPkt(s, pkt("q2/c", 2, false, 3))
	expectPkt(s, pkt("q2/d", 2, false, 4))
	s.write(ackPacket(typePubrec, 3))
	s.expect(typePubrel<<4|0x02, idBody(3))
	s.write([]byte{typeDisconnect << 4, 0})
	s.expectClosed()

	pub("q1/e", 1, 5) // while away
	back := dialRaw(t, addr)
	back.write(AppendConnect(nil, login("phone", false)))
	back.expect(typeConnack<<4, []byte{1, Accepted})
	expectPkt(back, pkt("q1/a", 1, true, 1))
	expectPkt(back, pkt("q1/b", 1, true, 2))
	back.expect(typePubrel<<4|0x02, idBody(3))
	expectPkt(back, pkt("q2/d", 2, true, 4))
	expectPkt(back, pkt("q1/e", 1, false, 5))
}

// TestInteropRedeliveryOnReconnect is the Paho interoperability suite's
// "redelivery on reconnect" as it runs: a persistent client subscribes to
// TopicA/# at QoS 2, stops answering the PUBLISHes it gets, publishes to
// itself at QoS 1 and at QoS 2 (completing its own flows), disconnects
// and reconnects: both messages come again, in order, with DUP set.
// Before QoS 2 was served, its QoS 2 publish closed the connection, so
// only the QoS 1 message was in flight and came again.
func TestInteropRedeliveryOnReconnect(t *testing.T) {
	_, addr := startHub(t, Options{})
	c := dialRaw(t, addr)
	c.connect(login("myclientid2", false))
	c.write(AppendSubscribe(nil, 1, Filter{Topic: "TopicA/#", QoS: 2}))
	c.expect(typeSuback<<4, []byte{0, 1, 2})
	c.write(AppendPublish(nil, Message{Topic: "TopicA/B", QoS: 1}, false, 1))
	c.write(AppendPublish(nil, Message{Topic: "TopicA/C", QoS: 2}, false, 2))
	for acked, completed, published := false, false, 0; !acked || !completed || published < 2; {
		h, body, err := c.read()
		if err != nil {
			t.Fatalf("connection lost during the publishes: %v", err)
		}
		switch h >> 4 {
		case typePublish:
			published++ // paused: not answered
		case typePuback:
			acked = true
		case typePubrec:
			c.write(pubrel(uint16(body[0])<<8 | uint16(body[1])))
		case typePubcomp:
			completed = true
		}
	}
	c.write([]byte{typeDisconnect << 4, 0})
	c.expectClosed()

	back := dialRaw(t, addr)
	back.write(AppendConnect(nil, login("myclientid2", false)))
	back.expect(typeConnack<<4, []byte{1, Accepted})
	for _, m := range []Message{{Topic: "TopicA/B", QoS: 1}, {Topic: "TopicA/C", QoS: 2}} {
		want := AppendPublish(nil, m, true, uint16(m.QoS))
		back.expect(want[0], want[2:])
	}
}

// TestReconnectRacingADelivery: a message delivered in the instant a
// returning client attaches (here from Claimer.Claimed, as a fan-out
// racing the CONNECT would) goes after CONNACK (MQTT-3.2.0-1) and after
// the redeliveries, once, without DUP.
func TestReconnectRacingADelivery(t *testing.T) {
	h, addr := startHub(t, Options{})
	s := dialRaw(t, addr)
	s.connect(login("phone", false))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "room/a/comments", QoS: 1}))
	s.expect(typeSuback<<4, []byte{0, 1, 1})
	pkt := func(payload string, dup bool, id uint16) []byte {
		return AppendPublish(nil, Message{Topic: "room/a/comments", Payload: []byte(payload), QoS: 1}, dup, id)
	}
	h.srv.Deliver("room/a/comments", "room/a/comments", [][]byte{[]byte("m1"), []byte("m2")})
	for i, p := range []string{"m1", "m2"} {
		want := pkt(p, false, uint16(i+1))
		s.expect(want[0], want[2:])
	}
	s.write([]byte{typeDisconnect << 4, 0})
	s.expectClosed()

	var once sync.Once
	h.mu.Lock()
	h.onClaim = func(string) {
		once.Do(func() { h.srv.Deliver("room/a/comments", "room/a/comments", [][]byte{[]byte("m3")}) })
	}
	h.mu.Unlock()
	back := dialRaw(t, addr)
	back.write(AppendConnect(nil, login("phone", false)))
	back.expect(typeConnack<<4, []byte{1, Accepted})
	for _, want := range [][]byte{pkt("m1", true, 1), pkt("m2", true, 2), pkt("m3", false, 3)} {
		back.expect(want[0], want[2:])
	}
	back.write([]byte{typePingreq << 4, 0})
	back.expect(typePingresp<<4, nil) // and nothing sent twice before it
}

// TestPahoQoS2 publishes and subscribes at QoS 2 with real clients, and
// a will with QoS 2 keeps it.
func TestPahoQoS2(t *testing.T) {
	_, addr, count := countingHub(t, Options{})
	sub := pahoClient(t, addr, "viewer", "", true)
	got := subscribe(t, sub, "room/+/comments", 2)
	pub := pahoClient(t, addr, "poster", "secret", true)
	for i := range 10 {
		publish(t, pub, "room/a/comments", 2, false, fmt.Sprintf("m%d", i))
	}
	for i := range 10 {
		if m := receive(t, got, fmt.Sprintf("m%d", i)); m.Qos() != 2 {
			t.Fatalf("delivered at QoS %d, want 2", m.Qos())
		}
		if n := count(fmt.Sprintf("m%d", i)); n != 1 {
			t.Fatalf("m%d handed on %d times", i, n)
		}
	}

	wills := subscribe(t, sub, "status/+", 2)
	o := paho.NewClientOptions().AddBroker("tcp://"+addr).SetClientID("cam").SetUsername("cam").SetPassword("secret").
		SetAutoReconnect(false).SetWill("status/cam", "gone", 2, false)
	var cam paho.Client
	var nc interface{ Close() error }
	o.SetCustomOpenConnectionFn(func(uri *url.URL, _ paho.ClientOptions) (net.Conn, error) {
		c, err := net.Dial("tcp", uri.Host)
		nc = c
		return c, err
	})
	cam = paho.NewClient(o)
	if tok := cam.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	nc.Close()
	if m := receive(t, wills, "gone"); m.Qos() != 2 {
		t.Fatalf("the will came at QoS %d, want 2", m.Qos())
	}
}

// TestReconnectDuringSaveLeavesNoExpiry: a client that returns while its
// session is being saved (an engine round trip in live) must not find
// the expiry clock started behind it; it used to be, and expired the
// session up to SessionExpiry early, in-flight messages and all, after a
// later disconnect.
func TestReconnectDuringSaveLeavesNoExpiry(t *testing.T) {
	h, addr := startHub(t, Options{})
	c := dialRaw(t, addr)
	c.connect(login("phone", false))
	c.write(AppendSubscribe(nil, 1, Filter{Topic: "room/a/comments", QoS: 1}))
	c.expect(typeSuback<<4, []byte{0, 1, 1})
	saving, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.mu.Lock()
	h.onSave = func() { once.Do(func() { close(saving); <-release }) }
	h.mu.Unlock()
	c.write([]byte{typeDisconnect << 4, 0})
	<-saving // the first connection's detach is saving the session
	back := dialRaw(t, addr)
	back.write(AppendConnect(nil, login("phone", false)))
	back.expect(typeConnack<<4, []byte{1, Accepted})
	close(release)
	waitFor(t, 5*time.Second, "the first connection is gone", func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return len(h.srv.conns) == 1
	})
	h.srv.mu.Lock()
	sess := h.srv.sessions[sessionKey("u-phone", "phone")]
	h.srv.mu.Unlock()
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.expiry != nil && sess.expiry.Stop() {
		t.Fatal("the session of a connected client has its expiry clock running")
	}
}
