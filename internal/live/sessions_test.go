package live

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

const sessionsConfig = `
clients:
  app: {roles: [live-issuer]}
live:
  rooms: [curling]
  anonymous_read: true
  user_rate: "off"
  mqtt:
    max_offline_messages: 5
`

// rawClient speaks MQTT packet by packet, so that a test decides which
// messages it acknowledges.
type rawClient struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	wait time.Duration // for each packet (20 s)
}

type packet struct {
	typ     byte
	flags   byte
	id      uint16
	topic   string
	payload []byte
}

func (p packet) dup() bool { return p.flags&0x08 != 0 }
func (p packet) qos() byte { return p.flags >> 1 & 3 }
func (p packet) text() string {
	var c Comment
	if err := json.Unmarshal(p.payload, &c); err != nil {
		return string(p.payload)
	}
	return c.Text
}

// dialSession connects a client id with cleanSession=false and returns
// the client and whether the server had its session.
func dialSession(t testing.TB, addr, id string) (*rawClient, bool) {
	t.Helper()
	c, code, present := dialAs(t, addr, id, "")
	if code != 0 {
		t.Fatalf("connack: refused %d", code)
	}
	return c, present
}

// dialAs connects a persistent session with a viewer token ("" for an
// anonymous viewer) and returns the CONNACK's code and session present.
func dialAs(t testing.TB, addr, id, token string) (*rawClient, byte, bool) {
	t.Helper()
	return dialKeepAlive(t, addr, id, token, 60)
}

// dialKeepAlive is dialAs with a keep-alive (0: the server's idle bound,
// 5 min).
func dialKeepAlive(t testing.TB, addr, id, token string, keepAlive uint16) (*rawClient, byte, bool) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	if keepAlive == 0 {
		c.wait = 4 * time.Minute // a client that never pings waits long (a storm)
	}
	cp := &mqtt.Connect{ClientID: id, KeepAlive: keepAlive}
	if token != "" {
		cp.Username, cp.Password, cp.HasPassword = "viewer", []byte(token), true
	}
	nc.Write(mqtt.AppendConnect(nil, cp))
	p := c.read()
	if p.typ != 2 || len(p.payload) != 2 {
		t.Fatalf("connack: type %d body %x", p.typ, p.payload)
	}
	return c, p.payload[1], p.payload[0]&1 == 1
}

func (c *rawClient) read() packet {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(cmp.Or(c.wait, 20*time.Second)))
	h, err := c.br.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	n, shift := 0, 0
	for {
		b, err := c.br.ReadByte()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		n |= int(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.br, body); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	p := packet{typ: h >> 4, flags: h & 0x0f}
	switch p.typ {
	case 3:
		tl := int(binary.BigEndian.Uint16(body))
		p.topic, body = string(body[2:2+tl]), body[2+tl:]
		if p.qos() > 0 {
			p.id, body = binary.BigEndian.Uint16(body), body[2:]
		}
		p.payload = body
	case 4, 5, 6, 7, 11:
		p.id = binary.BigEndian.Uint16(body)
	default:
		p.payload = body
	}
	return p
}

func (c *rawClient) subscribe(filter string, qos byte) {
	c.t.Helper()
	c.nc.Write(mqtt.AppendSubscribe(nil, 1, mqtt.Filter{Topic: filter, QoS: qos}))
	for {
		if p := c.read(); p.typ == 9 {
			if p.payload[2] != qos {
				c.t.Fatalf("subscribe %s: granted %#x", filter, p.payload[2])
			}
			return
		}
	}
}

// publishes reads n PUBLISH packets, skipping nothing else.
func (c *rawClient) publishes(n int) []packet {
	c.t.Helper()
	var out []packet
	for len(out) < n {
		p := c.read()
		if p.typ != 3 {
			c.t.Fatalf("got packet type %d, want PUBLISH (after %d of %d)", p.typ, len(out), n)
		}
		out = append(out, p)
	}
	return out
}

func (c *rawClient) ack(typ byte, id uint16) {
	flags := byte(0)
	if typ == 6 {
		flags = 2
	}
	c.nc.Write([]byte{typ<<4 | flags, 2, byte(id >> 8), byte(id)})
}

// postComments posts texts to curling, each acknowledged (stored) before
// the next.
func (h *harness) postComments(token string, texts ...string) {
	h.t.Helper()
	for _, text := range texts {
		if code := h.do("POST", "/v1/live/curling/comments", token, map[string]string{"text": text}, nil); code != 200 && code != 201 {
			h.t.Fatalf("post %q: status %d", text, code)
		}
	}
}

func texts(ps []packet) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.text()
	}
	return out
}

func sessionsHarness(t *testing.T) (*config.Config, *harness) {
	cfg, err := config.Parse([]byte(sessionsConfig), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, startHarness(t, cfg, nil)
}

// restart stops h's live service (its MQTT server with it) and starts a
// new one on the same engine, as a restarted process would.
func (h *harness) restart(cfg *config.Config) *harness {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.srv.Close()
	if err := h.s.Stop(ctx); err != nil {
		h.t.Fatalf("stop: %v", err)
	}
	return startHarness(h.t.(*testing.T), cfg, h.eng)
}

// TestPersistentSessionSurvivesRestartQoS1: a persistent subscriber at
// QoS 1 leaves two comments unacknowledged and goes away; more comments
// are posted; the live service is replaced by a new one on the same
// engine. Back with cleanSession=false, the client gets the two again,
// first, in order, with DUP, then the ones it missed, in order, without.
func TestPersistentSessionSurvivesRestartQoS1(t *testing.T) {
	cfg, h := sessionsHarness(t)
	poster := h.token("u1", "One")
	c, present := dialSession(t, h.mqtt, "phone-q1")
	if present {
		t.Fatal("a new session is present")
	}
	c.subscribe("live/curling/comments", 1)
	h.postComments(poster, "a1", "a2", "a3")
	got := c.publishes(3)
	c.ack(4, got[0].id) // a1 acknowledged; a2 and a3 stay in flight
	c.nc.Close()
	h.postComments(poster, "b1", "b2")

	h2 := h.restart(cfg)
	c2, present := dialSession(t, h2.mqtt, "phone-q1")
	if !present {
		t.Fatal("the session is not present after the restart")
	}
	again := c2.publishes(4)
	want := []string{"a2", "a3", "b1", "b2"}
	if fmt.Sprint(texts(again)) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", texts(again), want)
	}
	for i, p := range again {
		if p.qos() != 1 || p.dup() != (i < 2) {
			t.Errorf("%s: QoS %d DUP %v", p.text(), p.qos(), p.dup())
		}
		if i < 2 && p.id != got[i+1].id {
			t.Errorf("%s: packet id %d, was %d", p.text(), p.id, got[i+1].id)
		}
		c2.ack(4, p.id)
	}
	// And the session goes on: a new comment arrives once.
	h2.postComments(poster, "c1")
	if p := c2.publishes(1)[0]; p.text() != "c1" || p.dup() {
		t.Fatalf("got %q DUP %v, want c1", p.text(), p.dup())
	}
}

// TestPersistentSessionSurvivesRestartQoS2: a QoS 2 subscriber completes
// one comment, receives (PUBREC) a second without completing it, leaves
// a third unanswered, and goes away; after a restart it gets a PUBREL for
// the second, the third again with DUP, then what it missed; the
// completed and the received ones are never published again.
func TestPersistentSessionSurvivesRestartQoS2(t *testing.T) {
	cfg, h := sessionsHarness(t)
	poster := h.token("u2", "Two")
	c, _ := dialSession(t, h.mqtt, "phone-q2")
	c.subscribe("live/curling/comments", 2)
	h.postComments(poster, "x1", "x2", "x3")
	got := c.publishes(3)
	c.ack(5, got[0].id) // PUBREC x1
	if p := c.read(); p.typ != 6 || p.id != got[0].id {
		t.Fatalf("got type %d id %d, want PUBREL %d", p.typ, p.id, got[0].id)
	}
	c.ack(7, got[0].id) // PUBCOMP x1: done
	c.ack(5, got[1].id) // PUBREC x2: received, PUBREL due
	if p := c.read(); p.typ != 6 || p.id != got[1].id {
		t.Fatalf("got type %d id %d, want PUBREL %d", p.typ, p.id, got[1].id)
	}
	c.nc.Close()
	h.postComments(poster, "y1")

	h2 := h.restart(cfg)
	c2, present := dialSession(t, h2.mqtt, "phone-q2")
	if !present {
		t.Fatal("the session is not present after the restart")
	}
	if p := c2.read(); p.typ != 6 || p.id != got[1].id {
		t.Fatalf("first after CONNACK: type %d id %d, want PUBREL %d", p.typ, p.id, got[1].id)
	}
	c2.ack(7, got[1].id)
	rest := c2.publishes(2)
	if rest[0].text() != "x3" || !rest[0].dup() || rest[0].id != got[2].id || rest[0].qos() != 2 {
		t.Fatalf("got %q DUP %v id %d, want x3 again with DUP under id %d", rest[0].text(), rest[0].dup(), rest[0].id, got[2].id)
	}
	if rest[1].text() != "y1" || rest[1].dup() {
		t.Fatalf("got %q DUP %v, want y1", rest[1].text(), rest[1].dup())
	}
	for _, p := range rest {
		c2.ack(5, p.id)
		if r := c2.read(); r.typ != 6 || r.id != p.id {
			t.Fatalf("got type %d id %d, want PUBREL %d", r.typ, r.id, p.id)
		}
		c2.ack(7, p.id)
	}
	h2.postComments(poster, "z1")
	if p := c2.publishes(1)[0]; p.text() != "z1" {
		t.Fatalf("got %q, want z1 (x1 or x2 again?)", p.text())
	}
}

// TestOfflineBoundDropsTheOldest: a persistent session away while more
// comments than live.mqtt.max_offline_messages (5) are posted gets the
// newest 5 when it returns; the others are counted as dropped.
func TestOfflineBoundDropsTheOldest(t *testing.T) {
	_, h := sessionsHarness(t)
	poster := h.token("u3", "Three")
	c, _ := dialSession(t, h.mqtt, "phone-bound")
	c.subscribe("live/curling/comments", 1)
	c.nc.Close()
	eventually(t, "the session is offline", func() bool { return h.s.mqtt.Stats().Connections.Load() == 0 })
	var all []string
	for i := range 8 {
		all = append(all, fmt.Sprintf("m%d", i))
	}
	h.postComments(poster, all...)
	c2, present := dialSession(t, h.mqtt, "phone-bound")
	if !present {
		t.Fatal("the session is not present")
	}
	got := c2.publishes(5)
	if fmt.Sprint(texts(got)) != fmt.Sprint(all[3:]) {
		t.Fatalf("got %v, want the newest five %v", texts(got), all[3:])
	}
	if n := h.s.mqtt.Stats().OfflineDropped.Load(); n != 3 {
		t.Fatalf("dropped %d, want 3", n)
	}
	if v := testutil.ToFloat64(h.s.m.accepted); v != 8 {
		t.Fatalf("accepted %v", v)
	}
}

// TestRevokedViewersSessionDoesNotReplay: a viewer's persistent session
// is saved with comments owed; the process restarts (no process holds
// the session in memory), the user is revoked, and the user comes back
// with a token issued after the revocation: the old session is gone,
// nothing of it is delivered.
func TestRevokedViewersSessionDoesNotReplay(t *testing.T) {
	cfg, h := sessionsHarness(t)
	poster := h.token("u4", "Four")
	c, code, _ := dialAs(t, h.mqtt, "rv-phone", h.token("rv", "Revoked"))
	if code != 0 {
		t.Fatalf("connack %d", code)
	}
	c.subscribe("live/curling/comments", 1)
	h.postComments(poster, "owed1")
	c.publishes(1) // in flight, unacknowledged
	c.nc.Close()
	h.postComments(poster, "owed2")

	h2 := h.restart(cfg)
	if code := h2.do("POST", "/v1/live/revocations", h2.key("app"), map[string]string{"user": "rv"}, nil); code != 201 {
		t.Fatalf("revoke: %d", code)
	}
	var c2 *rawClient
	eventually(t, "a token issued after the revocation is accepted", func() bool {
		var code byte
		var present bool
		c2, code, present = dialAs(t, h2.mqtt, "rv-phone", h2.token("rv", "Revoked"))
		if code == 0 && present {
			t.Fatal("the revoked user's session is present")
		}
		return code == 0
	})
	c2.nc.Write([]byte{0xc0, 0}) // PINGREQ: its answer comes first when nothing is owed
	if p := c2.read(); p.typ != 13 {
		t.Fatalf("got packet type %d (%s), want PINGRESP: the revoked session replayed", p.typ, p.text())
	}
}

// TestTakeoverMovesInflight: a client id connected to process A
// connects to process B while A still holds it: A's connection is
// closed, B resumes the session with the comments in flight (DUP), and
// the session goes on on B.
func TestTakeoverMovesInflight(t *testing.T) {
	cfg, a := sessionsHarness(t)
	b := startHarness(t, cfg, a.eng)
	poster := a.token("u5", "Five")
	ca, _ := dialSession(t, a.mqtt, "roamer")
	ca.subscribe("live/curling/comments", 1)
	a.postComments(poster, "t1", "t2")
	first := ca.publishes(2) // unacknowledged

	cb, present := dialSession(t, b.mqtt, "roamer")
	if !present {
		t.Fatal("the session is not present on B")
	}
	again := cb.publishes(2)
	for i, p := range again {
		if p.text() != first[i].text() || !p.dup() || p.id != first[i].id {
			t.Fatalf("on B: %q DUP %v id %d, want %q again with DUP under id %d", p.text(), p.dup(), p.id, first[i].text(), first[i].id)
		}
		cb.ack(4, p.id)
	}
	ca.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, ca.nc); err != nil {
		t.Fatalf("A's connection was not closed: %v", err)
	}
	b.postComments(poster, "t3")
	if p := cb.publishes(1)[0]; p.text() != "t3" || p.dup() {
		t.Fatalf("got %q DUP %v, want t3", p.text(), p.dup())
	}
}

// TestCleanSessionDiscardsSavedSession: a client id whose persistent
// session was saved by process A connects to process B with
// cleanSession=1: the session is discarded everywhere (MQTT-3.1.2-6), so
// coming back to A with cleanSession=0 starts afresh, owed nothing.
func TestCleanSessionDiscardsSavedSession(t *testing.T) {
	cfg, a := sessionsHarness(t)
	b := startHarness(t, cfg, a.eng)
	poster := a.token("u6", "Six")
	ca, _ := dialSession(t, a.mqtt, "switcher")
	ca.subscribe("live/curling/comments", 1)
	a.postComments(poster, "d1")
	ca.publishes(1) // unacknowledged
	ca.nc.Close()
	eventually(t, "the session is offline on A", func() bool { return a.s.mqtt.Stats().Connections.Load() == 0 })

	nc, err := net.Dial("tcp", b.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	cb := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	nc.Write(mqtt.AppendConnect(nil, &mqtt.Connect{ClientID: "switcher", CleanSession: true, KeepAlive: 60}))
	if p := cb.read(); p.typ != 2 || p.payload[0] != 0 || p.payload[1] != 0 {
		t.Fatalf("clean connack %x", p.payload)
	}
	nc.Write([]byte{0xe0, 0}) // DISCONNECT
	nc.Close()
	eventually(t, "A gives the session up", func() bool { return a.s.mqtt.Sessions() == 0 })

	a.postComments(poster, "d2")
	ca2, present := dialSession(t, a.mqtt, "switcher")
	if present {
		t.Fatal("the discarded session is present")
	}
	ca2.nc.Write([]byte{0xc0, 0}) // PINGREQ
	if p := ca2.read(); p.typ != 13 {
		t.Fatalf("got packet type %d (%s), want PINGRESP: the discarded session replayed", p.typ, p.text())
	}
}

// TestSessionExpiry: with live.mqtt.session_expiry 1s, a persistent
// session left offline is gone after it, from memory and the engine.
func TestSessionExpiry(t *testing.T) {
	cfg, err := config.Parse([]byte(sessionsConfig+"    session_expiry: 1s\n"), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, cfg, nil)
	c, _ := dialSession(t, h.mqtt, "short-lived")
	c.subscribe("live/curling/comments", 1)
	c.nc.Close()
	eventually(t, "the expired session's entry is purged", func() bool {
		st, _, err := hooks{h.s}.LoadState("short-lived")
		return err == nil && st == nil
	})
	if _, present := dialSession(t, h.mqtt, "short-lived"); present {
		t.Fatal("the expired session is present")
	}
}
