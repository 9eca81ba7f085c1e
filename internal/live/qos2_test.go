package live

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

// readSmall reads one packet of under 128 bytes (acks, CONNACK).
func readSmall(t *testing.T, nc net.Conn) []byte {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	head := make([]byte, 2)
	if _, err := io.ReadFull(nc, head); err != nil {
		t.Fatalf("read: %v", err)
	}
	body := make([]byte, head[1])
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatalf("read: %v", err)
	}
	return append(head, body...)
}

// TestCommentAtQoS2IsStoredOnce posts a comment at QoS 2 and sends the
// PUBLISH again with DUP before PUBREL, as a client that missed the
// PUBREC does: the comment is moderated, stored and fanned out once; a
// QoS 2 viewer receives it at QoS 2.
func TestCommentAtQoS2IsStoredOnce(t *testing.T) {
	h := newHarness(t, testConfig)
	viewer := pahoConnect(t, "tcp://"+h.mqtt, "viewer-q2", "")
	got := make(chan paho.Message, 10)
	if tok := viewer.Subscribe("live/curling/comments", 2, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	nc, err := net.Dial("tcp", h.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(mqtt.AppendConnect(nil, &mqtt.Connect{ClientID: "u5-phone", CleanSession: true, Username: "viewer",
		Password: []byte(h.token("u5", "Five")), HasPassword: true}))
	if p := readSmall(t, nc); !bytes.Equal(p, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("connack %x", p)
	}
	post := mqtt.Message{Topic: "live/curling/post", Payload: []byte("exactly once"), QoS: 2}
	nc.Write(mqtt.AppendPublish(nil, post, false, 5))
	nc.Write(mqtt.AppendPublish(nil, post, true, 5))
	pubrec := []byte{0x50, 2, 0, 5}
	if p := readSmall(t, nc); !bytes.Equal(p, pubrec) {
		t.Fatalf("got %x, want PUBREC", p)
	}
	nc.Write([]byte{0x62, 2, 0, 5}) // PUBREL
	for {
		p := readSmall(t, nc)
		if bytes.Equal(p, []byte{0x70, 2, 0, 5}) {
			break // PUBCOMP
		}
		if !bytes.Equal(p, pubrec) { // the retry's own PUBREC may come
			t.Fatalf("got %x, want PUBREC or PUBCOMP", p)
		}
	}
	post.Payload = []byte("marker")
	nc.Write(mqtt.AppendPublish(nil, post, false, 6))

	// Two posts may be moderated by different workers, so they can reach
	// the viewer in either order; each must come once, at QoS 2.
	seen := map[string]int{}
	for range 2 {
		m := next(t, got)
		var c Comment
		if err := json.Unmarshal(m.Payload(), &c); err != nil {
			t.Fatalf("comment %s: %v", m.Payload(), err)
		}
		seen[c.Text]++
		if m.Qos() != 2 {
			t.Fatalf("delivered at QoS %d, want 2", m.Qos())
		}
	}
	if seen["exactly once"] != 1 || seen["marker"] != 1 {
		t.Fatalf("the viewer got %v, want each of \"exactly once\" and \"marker\" once", seen)
	}
	// The retry never reached moderation: it would have been rejected
	// as a duplicate, or stored twice.
	if n := testutil.ToFloat64(h.s.m.posts.WithLabelValues("mqtt")); n != 2 {
		t.Fatalf("%v posts reached moderation, want 2", n)
	}
	eventually(t, "two comments accepted", func() bool {
		var st RoomStats
		h.do("GET", "/v1/live/curling", "", nil, &st)
		return st.Accepted == 2
	})
	var page HistoryPage
	h.do("GET", "/v1/live/curling/comments?limit=10", "", nil, &page)
	if len(page.Comments) != 2 {
		t.Fatalf("history holds %d comments, want 2: %s", len(page.Comments), page.Comments)
	}
}

// losesFirstPubrec is a connection that breaks when the first PUBREC
// arrives, before the client reads it: the poster only ever receives
// CONNACK (20 02 00 00), PUBREC (50 02 id) and PUBCOMP (70 02 id) with
// small ids, so a byte 0x50 marks a PUBREC (Paho reads a byte at a time).
type losesFirstPubrec struct {
	net.Conn
	lost *atomic.Bool
}

func (c losesFirstPubrec) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && bytes.IndexByte(p[:n], 0x50) >= 0 && c.lost.CompareAndSwap(false, true) {
		c.Conn.Close()
		return 0, io.ErrUnexpectedEOF
	}
	return n, err
}

// TestPahoRetriedQoS2CommentIsStoredOnce: a Paho client posts at QoS 2
// with a persistent session and loses its connection as the PUBREC
// comes; it reconnects and sends the PUBLISH again with DUP set, as
// MQTT-4.4.0-1 asks. The publish completes, and the comment reaches
// moderation, and the room, once.
func TestPahoRetriedQoS2CommentIsStoredOnce(t *testing.T) {
	h := newHarness(t, testConfig)
	viewer := pahoConnect(t, "tcp://"+h.mqtt, "viewer-retry", "")
	got := pahoSubscribe(t, viewer, "live/curling/comments")

	var lost atomic.Bool
	o := paho.NewClientOptions().AddBroker("tcp://" + h.mqtt).SetClientID("u7-phone").SetCleanSession(false).
		SetUsername("viewer").SetPassword(h.token("u7", "Seven")).
		SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).
		SetCustomOpenConnectionFn(func(uri *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			nc, err := net.Dial("tcp", uri.Host)
			if err != nil {
				return nil, err
			}
			return losesFirstPubrec{Conn: nc, lost: &lost}, nil
		})
	poster := paho.NewClient(o)
	if tok := poster.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer poster.Disconnect(50)
	if tok := poster.Publish("live/curling/post", 2, false, "once, despite the retry"); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	if !lost.Load() {
		t.Fatal("the connection was not broken at the PUBREC: nothing was retried")
	}
	if tok := poster.Publish("live/curling/post", 2, false, "marker"); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	// Two posts may be moderated by different workers, so they can reach
	// the viewer in either order; each must come once.
	seen := map[string]int{}
	for range 2 {
		var c Comment
		m := next(t, got)
		if err := json.Unmarshal(m.Payload(), &c); err != nil {
			t.Fatalf("comment %s: %v", m.Payload(), err)
		}
		seen[c.Text]++
	}
	if seen["once, despite the retry"] != 1 || seen["marker"] != 1 {
		t.Fatalf("the viewer got %v, want each of %q and %q once", seen, "once, despite the retry", "marker")
	}
	if n := testutil.ToFloat64(h.s.m.posts.WithLabelValues("mqtt")); n != 2 {
		t.Fatalf("%v posts reached moderation, want 2", n)
	}
}
