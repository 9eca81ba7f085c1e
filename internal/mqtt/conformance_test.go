package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// The tests in this file check MQTT 3.1.1 normative statements that the
// other tests do not; docs/mqtt-conformance.md maps every statement to
// its test. Raw packets, so that the exact bytes are what is checked.

// closedSilently waits for the server to close the connection and fails
// if it sends anything first (a refused CONNECT gets no CONNACK).
func (r *rawClient) closedSilently() {
	r.t.Helper()
	h, body, err := r.read()
	if err == nil {
		r.t.Fatalf("got packet %#x %x, want the connection closed without an answer", h, body)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatal("the server did not close the connection")
	}
}

// settled sends PINGREQ and expects PINGRESP as the next packet: nothing
// the server queued before it is left unread.
func (r *rawClient) settled() {
	r.t.Helper()
	r.write([]byte{typePingreq << 4, 0})
	r.expect(typePingresp<<4, nil)
}

// failedStatement names the statement a failed subtest checks.
func failedStatement(t *testing.T, statement string) {
	if t.Failed() {
		t.Logf("this breaks %s", statement)
	}
}

// connectPacket is a CONNECT for client id "c" with the given connect
// flags and payload after the client id.
func connectPacket(name string, level, flags byte, clientID string, rest ...string) []byte {
	body := appendString(nil, name)
	body = append(body, level, flags, 0, 30)
	body = appendString(body, clientID)
	for _, s := range rest {
		body = appendString(body, s)
	}
	return append(appendLength([]byte{typeConnect << 4}, len(body)), body...)
}

// TestConnectViolationsGetNoConnack: a CONNECT that breaks the standard
// is answered by closing the connection, without a CONNACK
// (MQTT-3.1.4-1), and nothing sent after it is answered.
func TestConnectViolationsGetNoConnack(t *testing.T) {
	_, addr := startHub(t, Options{})
	cases := []struct{ statement, name string }{
		{"MQTT-3.1.0-1", "first packet PINGREQ"},
		{"MQTT-3.1.2-1", "protocol name hj"},
		{"MQTT-3.1.2-3", "reserved connect flag set"},
		{"MQTT-3.1.2-11, MQTT-3.1.2-13", "will QoS without a will"},
		{"MQTT-3.1.2-15", "will retain without a will"},
		{"MQTT-3.1.2-22", "password without a user name"},
		{"MQTT-3.1.3-4", "client id not UTF-8"},
		{"MQTT-3.1.3-10, MQTT-4.7.1-1", "will topic with a wildcard"},
		{"MQTT-4.7.3-1", "empty will topic"},
		{"MQTT-3.1.3-11", "user name not UTF-8"},
		{"MQTT-2.2.2-2", "CONNECT with fixed header flags 0001"},
		{"MQTT-3.1.4-1", "client id field missing"},
	}
	packets := map[string][]byte{
		"first packet PINGREQ":                 {typePingreq << 4, 0},
		"protocol name hj":                     connectPacket("hj", 4, 0x02, "c"),
		"reserved connect flag set":            connectPacket("MQTT", 4, 0x03, "c"),
		"will QoS without a will":              connectPacket("MQTT", 4, 0x02|0x08, "c"),
		"will retain without a will":           connectPacket("MQTT", 4, 0x02|0x20, "c"),
		"password without a user name":         connectPacket("MQTT", 4, 0x02|0x40, "c", "secret"),
		"client id not UTF-8":                  connectPacket("MQTT", 4, 0x02, "c\xff"),
		"will topic with a wildcard":           connectPacket("MQTT", 4, 0x02|0x04, "c", "status/#", "gone"),
		"empty will topic":                     connectPacket("MQTT", 4, 0x02|0x04, "c", "", "gone"),
		"user name not UTF-8":                  connectPacket("MQTT", 4, 0x02|0x80, "c", "u\xc3"),
		"CONNECT with fixed header flags 0001": append([]byte{typeConnect<<4 | 1}, connectPacket("MQTT", 4, 0x02, "c")[1:]...),
		"client id field missing":              {typeConnect << 4, 10, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() { failedStatement(t, c.statement) })
			r := dialRaw(t, addr)
			// A PINGREQ behind it: accepted, the CONNECT would get
			// CONNACK and PINGRESP and the connection would stay.
			r.write(append(packets[c.name], typePingreq<<4, 0))
			r.closedSilently()
		})
	}
}

// TestRefusedConnectProcessesNothingAfter: a CONNECT refused with a
// CONNACK return code is followed by the close, and what the client sent
// behind it is not processed (MQTT-3.1.4-5, MQTT-3.2.2-4, MQTT-3.2.2-5).
func TestRefusedConnectProcessesNothingAfter(t *testing.T) {
	_, addr, count := countingHub(t, Options{})
	r := dialRaw(t, addr)
	bad := AppendConnect(nil, &Connect{ClientID: "x", CleanSession: true, Username: "u", Password: []byte("nope"), HasPassword: true})
	bad = append(bad, AppendPublish(nil, Message{Topic: "x/y", Payload: []byte("behind"), QoS: 1}, false, 1)...)
	r.write(bad)
	r.expect(typeConnack<<4, []byte{0, RefusedBadCredentials})
	r.closedSilently()
	if count("behind") != 0 {
		t.Fatal("a PUBLISH behind a refused CONNECT was handed on")
	}
}

// TestViolationsAfterConnectClose: once connected, a packet that breaks
// the standard closes the connection (MQTT-4.8.0-1), and a will is then
// published, since the client did not DISCONNECT.
func TestViolationsAfterConnectClose(t *testing.T) {
	_, addr := startHub(t, Options{})
	sub := func(id uint16, filter string, qos byte) []byte {
		body := append(appendString([]byte{byte(id >> 8), byte(id)}, filter), qos)
		return append(appendLength([]byte{typeSubscribe<<4 | 0x02}, len(body)), body...)
	}
	unsub := func(flags byte, id uint16, filters ...string) []byte {
		body := []byte{byte(id >> 8), byte(id)}
		for _, f := range filters {
			body = appendString(body, f)
		}
		return append(appendLength([]byte{typeUnsubscribe<<4 | flags}, len(body)), body...)
	}
	cases := []struct {
		statement, name string
		pkt             []byte
	}{
		{"MQTT-3.12.4-1, MQTT-2.2.2-2", "PINGREQ with flags 0001", []byte{typePingreq<<4 | 1, 0}},
		{"MQTT-3.14.1-1", "DISCONNECT with flags 0010", []byte{typeDisconnect<<4 | 2, 0}},
		{"MQTT-2.2.2-2", "PINGREQ with a body", []byte{typePingreq << 4, 1, 0}},
		{"MQTT-2.2.2-2", "DISCONNECT with a body", []byte{typeDisconnect << 4, 1, 0}},
		{"MQTT-2.3.1-1", "SUBSCRIBE with packet id 0", sub(0, "a/b", 0)},
		{"MQTT-2.3.1-1", "UNSUBSCRIBE with packet id 0", unsub(2, 0, "a/b")},
		{"MQTT-2.3.1-1", "QoS 1 PUBLISH with packet id 0", AppendPublish(nil, Message{Topic: "a/b", QoS: 1}, false, 0)},
		{"MQTT-3.8.3-1", "filter not UTF-8", sub(1, "a/\xff", 0)},
		{"MQTT-1.5.3-1", "surrogate code point in a filter", sub(1, "a/\xed\xa0\x80", 0)},
		{"MQTT-4.7.3-2", "U+0000 in a filter", sub(1, "a/\x00", 0)},
		{"MQTT-3.8.3-3", "SUBSCRIBE without a filter", []byte{typeSubscribe<<4 | 2, 2, 0, 1}},
		{"MQTT-3.8.3-4", "requested QoS 3", sub(1, "a/b", 3)},
		{"MQTT-3.8.3-4", "reserved bits in the requested QoS", sub(1, "a/b", 0x81)},
		{"MQTT-4.7.1-2", "# not last", sub(1, "a/#/b", 0)},
		{"MQTT-4.7.1-2", "# inside a level", sub(1, "a/b#", 0)},
		{"MQTT-4.7.1-3", "+ inside a level", sub(1, "a/b+/c", 0)},
		{"MQTT-4.7.3-1", "empty filter", sub(1, "", 0)},
		{"MQTT-3.10.1-1", "UNSUBSCRIBE with flags 0000", unsub(0, 1, "a/b")},
		{"MQTT-3.10.3-1", "UNSUBSCRIBE filter not UTF-8", unsub(2, 1, "a/\xff")},
		{"MQTT-3.10.3-2", "UNSUBSCRIBE without a filter", unsub(2, 1)},
		{"MQTT-3.3.2-1, MQTT-4.7.3-1", "PUBLISH with an empty topic", AppendPublish(nil, Message{Topic: ""}, false, 0)},
		{"MQTT-3.3.2-2", "PUBLISH topic with #", AppendPublish(nil, Message{Topic: "a/#"}, false, 0)},
		{"MQTT-4.8.0-1", "CONNACK from a client", []byte{typeConnack << 4, 2, 0, 0}},
		{"MQTT-4.8.0-1", "SUBACK from a client", []byte{typeSuback << 4, 3, 0, 1, 0}},
		{"MQTT-4.8.0-1", "PINGRESP from a client", []byte{typePingresp << 4, 0}},
		{"MQTT-4.8.0-1", "reserved packet type 15", []byte{0xf0, 0}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(func() { failedStatement(t, c.statement) })
			id := "v" + string(rune('a'+i))
			w := dialRaw(t, addr)
			w.connect(login("watcher-"+id, true))
			w.write(AppendSubscribe(nil, 1, Filter{Topic: "will/" + id}))
			w.expect(typeSuback<<4, []byte{0, 1, 0})
			r := dialRaw(t, addr)
			r.connect(&Connect{ClientID: id, CleanSession: true, Username: id, Password: []byte("secret"), HasPassword: true,
				Will: &Message{Topic: "will/" + id, Payload: []byte(c.name)}})
			r.write(c.pkt)
			r.expectClosed()
			want := AppendPublish(nil, Message{Topic: "will/" + id, Payload: []byte(c.name)}, false, 0)
			w.expect(want[0], want[2:])
		})
	}
}

// TestCleanSessionDiscardsTheSession: CleanSession 1 ends a persistent
// session left before (MQTT-3.1.2-6): CONNACK says no session
// (MQTT-3.2.2-1), its subscriptions are gone, and a later CleanSession 0
// connection starts afresh (MQTT-3.2.2-3).
func TestCleanSessionDiscardsTheSession(t *testing.T) {
	h, addr := startHub(t, Options{})
	connect := func(clean bool, present byte) *rawClient {
		r := dialRaw(t, addr)
		r.write(AppendConnect(nil, login("phone", clean)))
		r.expect(typeConnack<<4, []byte{present, Accepted})
		return r
	}
	r := connect(false, 0) // no session yet: session present 0
	r.write(AppendSubscribe(nil, 1, Filter{Topic: "a/b", QoS: 1}))
	r.expect(typeSuback<<4, []byte{0, 1, 1})
	r.write([]byte{typeDisconnect << 4, 0})
	r.expectClosed()
	h.srv.DeliverQoS("a/b", "a/b", 1, [][]byte{[]byte("queued")})

	c := connect(true, 0) // the session exists, but CleanSession 1 discards it
	if n := h.srv.Subscribers("a/b"); n != 0 {
		t.Fatalf("%d subscribers of a/b after a clean session replaced the persistent one", n)
	}
	c.settled() // and the message queued for the old session is not sent
	c.write([]byte{typeDisconnect << 4, 0})
	c.expectClosed()

	p := connect(false, 0) // nothing is left to resume
	p.settled()
}

// TestWillFlags: a will goes out with its QoS and retain flag
// (MQTT-3.1.2-9): retained when asked (MQTT-3.1.2-17), so a later
// subscriber gets it with RETAIN 1, and not retained otherwise
// (MQTT-3.1.2-16).
func TestWillFlags(t *testing.T) {
	_, addr := startHub(t, Options{})
	w := dialRaw(t, addr)
	w.connect(login("watcher", true))
	w.write(AppendSubscribe(nil, 1, Filter{Topic: "status/+", QoS: 2}))
	w.expect(typeSuback<<4, []byte{0, 1, 2})
	for _, retain := range []bool{false, true} {
		c := login("cam", true)
		c.Will = &Message{Topic: "status/cam", Payload: []byte("gone"), QoS: 1, Retain: retain}
		r := dialRaw(t, addr)
		r.connect(c)
		r.nc.Close()
		// An established subscription gets RETAIN 0 either way (MQTT-3.3.1-9).
		h, body, err := w.read()
		if err != nil || h != typePublish<<4|1<<1 {
			t.Fatalf("will (retain %v): got %#x %x %v, want a QoS 1 PUBLISH without RETAIN", retain, h, body, err)
		}
		w.write(ackPacket(typePuback, uint16(body[len(body)-6])<<8|uint16(body[len(body)-5])))
	}
	late := dialRaw(t, addr)
	late.connect(login("late", true))
	late.write(AppendSubscribe(nil, 1, Filter{Topic: "status/cam", QoS: 0}))
	late.expect(typeSuback<<4, []byte{0, 1, 0})
	want := AppendPublish(nil, Message{Topic: "status/cam", Payload: []byte("gone"), Retain: true}, false, 0)
	late.expect(want[0], want[2:])
}

// TestClientIdentifiers: ids of 1 to 23 letters and digits are accepted
// (MQTT-3.1.3-5); zero-length ids with CleanSession 1 each get a session
// of their own (MQTT-3.1.3-6), so two of them do not take each other
// over; an id the server will not take gets CONNACK 2 (MQTT-3.1.3-9).
func TestClientIdentifiers(t *testing.T) {
	h, addr := startHub(t, Options{})
	r := dialRaw(t, addr)
	if code := r.connect(&Connect{ClientID: "abcdefghijklmnopqrstuVW", CleanSession: true}); code != Accepted {
		t.Fatalf("23-character id: CONNACK %d", code)
	}
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	for _, c := range []*rawClient{a, b} {
		if code := c.connect(&Connect{CleanSession: true}); code != Accepted {
			t.Fatalf("zero-length id: CONNACK %d", code)
		}
		c.write(AppendSubscribe(nil, 1, Filter{Topic: "a/b"}))
		c.expect(typeSuback<<4, []byte{0, 1, 0})
	}
	h.srv.DeliverQoS("a/b", "a/b", 0, [][]byte{[]byte("both")})
	want := AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("both")}, false, 0)
	for _, c := range []*rawClient{a, b} {
		c.expect(want[0], want[2:])
	}
	long := dialRaw(t, addr)
	long.write(AppendConnect(nil, &Connect{ClientID: strings.Repeat("x", 257), CleanSession: true}))
	long.expect(typeConnack<<4, []byte{0, RefusedIdentifier})
	long.closedSilently()
}

// TestRetainFlags: a retained message replaces the one before on its
// topic (MQTT-3.3.1-5), also at QoS 0 (MQTT-3.3.1-7); a new subscription
// gets it with RETAIN 1 (MQTT-3.3.1-6, MQTT-3.3.1-8), an established one
// with RETAIN 0 (MQTT-3.3.1-9); a zero-byte retained message goes to
// current subscribers as normal and removes the retained one, and is not
// stored itself (MQTT-3.3.1-10, MQTT-3.3.1-11); a PUBLISH with RETAIN 0
// neither stores nor removes (MQTT-3.3.1-12). Retained messages outlive
// the publisher's session (MQTT-3.1.2-7).
func TestRetainFlags(t *testing.T) {
	_, addr := startHub(t, Options{})
	pub := dialRaw(t, addr)
	pub.connect(login("pub", true))
	s := dialRaw(t, addr)
	s.connect(login("sub", true))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "r/+"}))
	s.expect(typeSuback<<4, []byte{0, 1, 0})
	publishAndSee := func(m Message) {
		t.Helper()
		pub.write(AppendPublish(nil, m, false, 1))
		if m.QoS == 1 {
			pub.expect(typePuback<<4, idBody(1))
		}
		m.Retain, m.QoS = false, 0 // what an established subscription gets
		want := AppendPublish(nil, m, false, 0)
		s.expect(want[0], want[2:])
	}
	lateGets := func(want ...Message) {
		t.Helper()
		l := dialRaw(t, addr)
		l.connect(&Connect{ClientID: "late", CleanSession: true})
		l.write(AppendSubscribe(nil, 1, Filter{Topic: "r/+"}))
		l.expect(typeSuback<<4, []byte{0, 1, 0})
		for _, m := range want {
			m.Retain, m.QoS = true, 0
			p := AppendPublish(nil, m, false, 0)
			l.expect(p[0], p[2:])
		}
		l.settled()
		l.nc.Close()
	}
	publishAndSee(Message{Topic: "r/a", Payload: []byte("one"), QoS: 1, Retain: true})
	publishAndSee(Message{Topic: "r/a", Payload: []byte("two"), QoS: 0, Retain: true})
	publishAndSee(Message{Topic: "r/a", Payload: []byte("not kept"), QoS: 1})
	pub.write([]byte{typeDisconnect << 4, 0})
	pub.expectClosed()
	lateGets(Message{Topic: "r/a", Payload: []byte("two")})

	pub = dialRaw(t, addr)
	pub.connect(login("pub", true))
	publishAndSee(Message{Topic: "r/a", QoS: 1, Retain: true}) // zero bytes: delivered, and deletes
	lateGets()
}

// TestIncomingDupIsNotPropagated: the DUP flag of a PUBLISH received is
// not passed on; deliveries set their own (MQTT-3.3.1-3).
func TestIncomingDupIsNotPropagated(t *testing.T) {
	_, addr := startHub(t, Options{})
	s := dialRaw(t, addr)
	s.connect(login("sub", true))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "a/b", QoS: 1}))
	s.expect(typeSuback<<4, []byte{0, 1, 1})
	p := dialRaw(t, addr)
	p.connect(login("pub", true))
	m := Message{Topic: "a/b", Payload: []byte("x"), QoS: 1}
	p.write(AppendPublish(nil, m, true, 9))
	p.expect(typePuback<<4, idBody(9))
	want := AppendPublish(nil, m, false, 1)
	s.expect(want[0], want[2:])
}

// TestSameFilterReplacesTheSubscription: subscribing again to a filter
// replaces the subscription (new QoS, one copy of each message) and
// sends the retained messages again (MQTT-3.8.4-3).
func TestSameFilterReplacesTheSubscription(t *testing.T) {
	h, addr := startHub(t, Options{})
	p := dialRaw(t, addr)
	p.connect(login("pub", true))
	p.write(AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("kept"), QoS: 1, Retain: true}, false, 1))
	p.expect(typePuback<<4, idBody(1))
	s := dialRaw(t, addr)
	s.connect(login("sub", true))
	retained := AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("kept"), Retain: true}, false, 0)
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "a/b", QoS: 0}))
	s.expect(typeSuback<<4, []byte{0, 1, 0})
	s.expect(retained[0], retained[2:])
	s.write(AppendSubscribe(nil, 2, Filter{Topic: "a/b", QoS: 1}))
	s.expect(typeSuback<<4, []byte{0, 2, 1})
	retained = AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("kept"), QoS: 1, Retain: true}, false, 1)
	s.expect(retained[0], retained[2:])
	s.write(ackPacket(typePuback, 1))
	if n := h.srv.Subscribers("a/b"); n != 1 {
		t.Fatalf("%d subscriptions of a/b, want the one replaced", n)
	}
	h.srv.DeliverQoS("a/b", "a/b", 1, [][]byte{[]byte("once")})
	want := AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("once"), QoS: 1}, false, 2)
	s.expect(want[0], want[2:])
	s.settled()
}

// TestUnsubscribe: UNSUBSCRIBE compares filters character by character
// and deletes the one that is equal, not those it would match
// (MQTT-3.10.4-1); new messages stop (MQTT-3.10.4-2); a QoS 1 message
// already sent is still completed, across a reconnect (MQTT-3.10.4-3);
// UNSUBACK carries the packet id (MQTT-3.10.4-4), comes even when nothing
// was deleted (MQTT-3.10.4-5) and once for several filters
// (MQTT-3.10.4-6).
func TestUnsubscribe(t *testing.T) {
	h, addr := startHub(t, Options{})
	unsub := func(id uint16, filters ...string) []byte {
		body := []byte{byte(id >> 8), byte(id)}
		for _, f := range filters {
			body = appendString(body, f)
		}
		return append(appendLength([]byte{typeUnsubscribe<<4 | 0x02}, len(body)), body...)
	}
	s := dialRaw(t, addr)
	s.connect(login("phone", false))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "a/+", QoS: 1}, Filter{Topic: "a/b", QoS: 1}))
	s.expect(typeSuback<<4, []byte{0, 1, 1, 1})
	h.srv.DeliverQoS("a/+", "a/b", 1, [][]byte{[]byte("in flight")})
	inflight := AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("in flight"), QoS: 1}, false, 1)
	s.expect(inflight[0], inflight[2:]) // not acknowledged
	s.write(unsub(7, "a/#"))            // matches both, equals neither
	s.expect(typeUnsuback<<4, idBody(7))
	if h.srv.Subscribers("a/+") != 1 || h.srv.Subscribers("a/b") != 1 {
		t.Fatal("an UNSUBSCRIBE of a/# removed subscriptions it only matches")
	}
	s.write(unsub(8, "a/+", "x/y", "a/b"))
	s.expect(typeUnsuback<<4, idBody(8))
	s.settled()
	if h.srv.Subscribers("a/+") != 0 || h.srv.Subscribers("a/b") != 0 {
		t.Fatal("subscriptions left after UNSUBSCRIBE")
	}
	s.write([]byte{typeDisconnect << 4, 0})
	s.expectClosed()
	back := dialRaw(t, addr)
	back.write(AppendConnect(nil, login("phone", false)))
	back.expect(typeConnack<<4, []byte{1, Accepted})
	inflight[0] |= 0x08 // DUP
	back.expect(inflight[0], inflight[2:])
	back.write(ackPacket(typePuback, 1))
	back.settled()
}

// TestByteOrderMarkIsKept: U+FEFF in a topic is a character like any
// other, neither skipped nor stripped (MQTT-1.5.3-3), and topics are
// matched without normalisation (MQTT-4.7.3-4).
func TestByteOrderMarkIsKept(t *testing.T) {
	_, addr := startHub(t, Options{})
	s := dialRaw(t, addr)
	s.connect(login("sub", true))
	s.write(AppendSubscribe(nil, 1, Filter{Topic: "\ufeffa/b"}, Filter{Topic: "A/B"}))
	s.expect(typeSuback<<4, []byte{0, 1, 0, 0})
	p := dialRaw(t, addr)
	p.connect(login("pub", true))
	for _, topic := range []string{"a/b", "\ufeffa/b"} {
		p.write(AppendPublish(nil, Message{Topic: topic, Payload: []byte(topic), QoS: 1}, false, 1))
		p.expect(typePuback<<4, idBody(1))
	}
	want := AppendPublish(nil, Message{Topic: "\ufeffa/b", Payload: []byte("\ufeffa/b")}, false, 0)
	s.expect(want[0], want[2:])
	s.settled()
}

// TestTopicMatching is the matching of section 4.7: wildcards
// (MQTT-4.7.1-2, MQTT-4.7.1-3), '$' topics (MQTT-4.7.2-1), empty levels
// and case (MQTT-4.7.3-4).
func TestTopicMatching(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"+/tennis/#", "sport/tennis/x", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		{"a/b", "a/b/", false},
		{"ACCOUNTS", "Accounts", false},
		{"Accounts payable", "Accounts payable", true},
		{"#", "$SYS/monitor/Clients", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"$SYS", "$SYS", true},
		{"+", "$SYS", false},
		{"a/$b", "a/$b", true},
		{"a/+", "a/$b", true},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

// slowHub stores messages whose payload starts with "slow" only when the
// test says so, as hooks that write in parallel batches may.
type slowHub struct {
	*hub
	held chan func(error)
}

type slowClient struct {
	h *slowHub
	openClient
}

func (h *slowHub) Authenticate(c *Connect) (Client, byte) {
	return &slowClient{h: h, openClient: openClient{h: h.hub, id: c.ClientID}}, Accepted
}

func (c *slowClient) Publish(m Message, done func(error)) error {
	if strings.HasPrefix(string(m.Payload), "slow") {
		c.h.held <- done
		return nil
	}
	return c.openClient.Publish(m, done)
}

// startSlow serves a Server with a slowHub on a loopback port.
func startSlow(t *testing.T) (*slowHub, string) {
	t.Helper()
	h := &slowHub{hub: &hub{watched: map[string]bool{}, retained: map[string]Message{}, sessions: map[string][]Filter{}, revoked: map[string]bool{}},
		held: make(chan func(error), 10)}
	h.srv = NewServer(h, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.srv.Close(ctx)
	})
	return h, ln.Addr().String()
}

// TestAcksKeepTheOrderOfPublishes: PUBACK and PUBREC go out in the order
// of the PUBLISH packets they answer (MQTT-4.6.0-2, MQTT-4.6.0-3), even
// when the hooks store a later message first.
func TestAcksKeepTheOrderOfPublishes(t *testing.T) {
	h, addr := startSlow(t)
	for _, qos := range []byte{1, 2} {
		ack := byte(typePuback << 4)
		if qos == 2 {
			ack = typePubrec << 4
		}
		r := dialRaw(t, addr)
		r.connect(&Connect{ClientID: fmt.Sprint("q", qos), CleanSession: true})
		r.write(AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("slow"), QoS: qos}, false, 1))
		r.write(AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("fast"), QoS: qos}, false, 2))
		r.settled() // no acknowledgement of 2 while 1 is being stored
		(<-h.held)(nil)
		r.expect(ack, idBody(1))
		r.expect(ack, idBody(2))
	}
}

// TestStoreFailureClosesTheConnection: a message the hooks could not
// store is a transient error; it is not acknowledged and the connection
// is closed (MQTT-4.8.0-2), so that the client sends it again.
func TestStoreFailureClosesTheConnection(t *testing.T) {
	h, addr := startSlow(t)
	for _, qos := range []byte{1, 2} {
		r := dialRaw(t, addr)
		r.connect(&Connect{ClientID: fmt.Sprint("q", qos), CleanSession: true})
		r.write(AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("slow"), QoS: qos}, false, 1))
		(<-h.held)(errors.New("disk full"))
		r.closedSilently()
	}
}

// TestProtocolLevels: MQTT at level 4 (3.1.1) and MQIsdp at level 3 (3.1)
// are served; a level that its name does not go with, or any other, gets
// CONNACK 0x01 and the close (MQTT-3.1.2-2).
func TestProtocolLevels(t *testing.T) {
	_, addr := startHub(t, Options{})
	cases := []struct {
		name  string
		level byte
		want  byte
	}{
		{"MQTT", 4, Accepted},
		{"MQIsdp", 3, Accepted},
		{"MQTT", 3, RefusedProtocol},
		{"MQIsdp", 4, RefusedProtocol},
		{"MQTT", 5, RefusedProtocol},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.name, " level ", c.level), func(t *testing.T) {
			r := dialRaw(t, addr)
			r.write(connectPacket(c.name, c.level, 0x02, "c"))
			r.expect(typeConnack<<4, []byte{0, c.want})
			if c.want != Accepted {
				r.closedSilently()
			}
		})
	}
}
