package cli

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/stadion-dev/stadion/internal/engine/enginetest"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// sessionClient connects a persistent MQTT session (cleanSession=false)
// to a process and subscribes it to the final's comments at QoS 1, once,
// unless resume; with noAck it never acknowledges what it receives. Each
// message goes to got, in the order received.
func sessionClient(t *testing.T, p *proc, id, token string, noAck, resume bool) (paho.Client, chan paho.Message) {
	return roomSession(t, p, "final", id, token, noAck, resume)
}

func roomSession(t *testing.T, p *proc, room, id, token string, noAck, resume bool) (paho.Client, chan paho.Message) {
	t.Helper()
	got := make(chan paho.Message, 1000)
	o := paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID(id).SetCleanSession(false).
		SetUsername("v").SetPassword(token).SetAutoReconnect(false).SetConnectRetry(false).
		SetAutoAckDisabled(noAck).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m })
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, p.mqtt, tok.Error())
	}
	if present := tok.(*paho.ConnectToken).SessionPresent(); present != resume {
		t.Fatalf("%s: session present %v, want %v", id, present, resume)
	}
	if !resume {
		st := c.Subscribe("live/"+room+"/comments", 1, nil)
		if !st.WaitTimeout(20*time.Second) || st.Error() != nil {
			t.Fatalf("subscribe: %v", st.Error())
		}
	}
	return c, got
}

// post posts texts to the final through p's HTTP API, each stored
// before the next.
func (p *proc) post(token string, texts ...string) { p.postTo("final", token, texts...) }

func (p *proc) postTo(room, token string, texts ...string) {
	p.t.Helper()
	for _, text := range texts {
		if code := p.request("POST", "/v1/live/"+room+"/comments", token, fmt.Sprintf(`{"text":%q}`, text), nil); code != 200 && code != 201 {
			p.t.Fatalf("post %q: %d", text, code)
		}
	}
}

// expectComments reads len(want) messages from got: their texts in order, and
// whether each was flagged DUP.
func expectComments(t *testing.T, who string, got <-chan paho.Message, want []string, dup []bool) {
	t.Helper()
	for i, w := range want {
		select {
		case m := <-got:
			text := string(m.Payload())
			if !strings.Contains(text, fmt.Sprintf(`"text":%q`, w)) {
				t.Fatalf("%s: message %d is %s, want %q", who, i, text, w)
			}
			if dup != nil && m.Duplicate() != dup[i] {
				t.Errorf("%s: %q DUP %v, want %v", who, w, m.Duplicate(), dup[i])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: waited 30s for %q (message %d)", who, w, i)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("%s: unexpected %s", who, m.Payload())
	case <-time.After(300 * time.Millisecond): // nothing more is owed
	}
}

// TestPersistentSessionSurvivesKill9 runs two stadion processes on one
// engine. One persistent subscriber leaves A (unacknowledged comments in
// flight) and misses comments while away; another is still on A, with
// comments in flight, when A is killed with SIGKILL. Both come back on
// B: everything owed arrives, in order, what was sent before with DUP.
// First, the offline bound: a session away while more than
// live.mqtt.max_offline_messages comments are posted gets the newest,
// and the metric counts the others.
func TestPersistentSessionSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two stadion processes; the full suite (CI's first pass) runs it")
	}
	ns := enginetest.Server(t)
	ext := []string{"--config", "testdata/live/sessions.yaml", "--nats-url", ns.ClientURL(), "--nats", ""}
	a := startProc(t, t.TempDir(), ext...)
	b := startProc(t, t.TempDir(), ext...)
	poster := a.viewerToken("poster")

	// The offline bound (room quiet, before any process dies, so that no
	// post waits for a dead worker's batch): 25 comments while away, the
	// newest 20 kept.
	away, _ := roomSession(t, b, "quiet", "phone-away", b.viewerToken("fan3"), false, false)
	away.Disconnect(100)
	var texts []string
	for i := range 25 {
		texts = append(texts, fmt.Sprintf("c%02d", i))
	}
	before := metric(t, b, "stadion_live_mqtt_offline_dropped_total")
	b.postTo("quiet", poster, texts...)
	_, awayGot := roomSession(t, b, "quiet", "phone-away", b.viewerToken("fan3"), false, true)
	expectComments(t, "away, back", awayGot, texts[5:], nil)
	if n := metric(t, b, "stadion_live_mqtt_offline_dropped_total") - before; n != 5 {
		t.Fatalf("offline dropped %v, want 5", n)
	}

	left, leftGot := sessionClient(t, a, "phone-left", a.viewerToken("fan1"), true, false)
	stayed, stayedGot := sessionClient(t, a, "phone-stayed", a.viewerToken("fan2"), true, false)
	a.post(poster, "a1", "a2", "a3")
	expectComments(t, "left, on A", leftGot, []string{"a1", "a2", "a3"}, []bool{false, false, false})
	expectComments(t, "stayed, on A", stayedGot, []string{"a1", "a2", "a3"}, []bool{false, false, false})
	left.Disconnect(100) // gone, three comments unacknowledged
	b.post(poster, "b1", "b2")
	a.cmd.Process.Kill()
	<-a.exited
	stayed.Disconnect(0) // its connection died with A; this only stops the client

	_, leftGot = sessionClient(t, b, "phone-left", b.viewerToken("fan1"), false, true)
	expectComments(t, "left, back on B", leftGot, []string{"a1", "a2", "a3", "b1", "b2"}, []bool{true, true, true, false, false})
	_, stayedGot = sessionClient(t, b, "phone-stayed", b.viewerToken("fan2"), false, true)
	// A died before saving what it sent: the comments come again, with
	// DUP: all five had been sent to it on A (b1 and b2 while A lived).
	expectComments(t, "stayed, back on B", stayedGot, []string{"a1", "a2", "a3", "b1", "b2"}, []bool{true, true, true, true, true})
}

// metric reads a counter of p's /metrics.
func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", p.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// rawSession is a persistent MQTT session driven packet by packet, so
// that a test decides what it acknowledges.
type rawSession struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

type rawPacket struct {
	typ, flags byte
	id         uint16
	payload    []byte
}

func dialRawSession(t *testing.T, addr, id, token string) (*rawSession, bool) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &rawSession{t: t, nc: nc, br: bufio.NewReader(nc)}
	nc.Write(mqtt.AppendConnect(nil, &mqtt.Connect{ClientID: id, KeepAlive: 60, Username: "v", Password: []byte(token), HasPassword: true}))
	p := r.read()
	if p.typ != 2 || p.payload[1] != 0 {
		t.Fatalf("connack %x", p.payload)
	}
	return r, p.payload[0] == 1
}

func (r *rawSession) read() rawPacket {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	h, err := r.br.ReadByte()
	n, shift := 0, 0
	for err == nil {
		var b byte
		if b, err = r.br.ReadByte(); err == nil {
			n |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 {
				break
			}
		}
	}
	body := make([]byte, n)
	if err == nil {
		_, err = io.ReadFull(r.br, body)
	}
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	p := rawPacket{typ: h >> 4, flags: h & 0x0f, payload: body}
	switch {
	case p.typ == 3: // PUBLISH at QoS 1 or 2: topic, id, payload
		tl := int(binary.BigEndian.Uint16(body))
		p.id, p.payload = binary.BigEndian.Uint16(body[2+tl:]), body[4+tl:]
	case p.typ >= 4 && p.typ <= 7:
		p.id = binary.BigEndian.Uint16(body)
	}
	return p
}

func (r *rawSession) ack(typ byte, id uint16) {
	flags := byte(0)
	if typ == 6 {
		flags = 2
	}
	r.nc.Write([]byte{typ<<4 | flags, 2, byte(id >> 8), byte(id)})
}

// TestQoS2ExactlyOnceAcrossKill9: a QoS 2 subscriber on A completes one
// comment and receives (PUBREC, answered by PUBREL) a second; A is
// killed with SIGKILL; back on B, the subscriber gets the PUBREL of the
// second, never either PUBLISH again, then the next comment (which A
// may have sent already: with DUP then).
func TestQoS2ExactlyOnceAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two stadion processes; the full suite (CI's first pass) runs it")
	}
	ns := enginetest.Server(t)
	ext := []string{"--config", "testdata/live/sessions.yaml", "--nats-url", ns.ClientURL(), "--nats", ""}
	a := startProc(t, t.TempDir(), ext...)
	b := startProc(t, t.TempDir(), ext...)
	poster, viewer := a.viewerToken("poster"), a.viewerToken("fan-q2")

	c, _ := dialRawSession(t, a.mqtt, "phone-q2", viewer)
	c.nc.Write(mqtt.AppendSubscribe(nil, 1, mqtt.Filter{Topic: "live/final/comments", QoS: 2}))
	if p := c.read(); p.typ != 9 || p.payload[2] != 2 {
		t.Fatalf("suback: type %d %x", p.typ, p.payload)
	}
	a.post(poster, "q1", "q2")
	var got []rawPacket
	for len(got) < 2 {
		if p := c.read(); p.typ == 3 {
			got = append(got, p)
		}
	}
	for i, want := range []byte{7, 0} { // q1 completed, q2 only received
		c.ack(5, got[i].id)
		if p := c.read(); p.typ != 6 || p.id != got[i].id {
			t.Fatalf("after PUBREC %d: type %d id %d, want PUBREL", got[i].id, p.typ, p.id)
		}
		if want == 7 {
			c.ack(7, got[i].id)
		}
	}
	a.post(poster, "q3") // before the kill: no post waits for a dead worker's batch
	a.cmd.Process.Kill()
	<-a.exited

	c2, present := dialRawSession(t, b.mqtt, "phone-q2", viewer)
	if !present {
		t.Fatal("the session is not present on B")
	}
	if p := c2.read(); p.typ != 6 || p.id != got[1].id {
		t.Fatalf("first on B: type %d id %d (%s), want PUBREL %d", p.typ, p.id, p.payload, got[1].id)
	}
	c2.ack(7, got[1].id)
	p := c2.read()
	if p.typ != 3 || !strings.Contains(string(p.payload), `"text":"q3"`) {
		t.Fatalf("got type %d %s, want q3 (q1 or q2 published again?)", p.typ, p.payload)
	}
}
