package live

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
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

	for _, want := range []string{"exactly once", "marker"} {
		m := next(t, got)
		var c Comment
		if err := json.Unmarshal(m.Payload(), &c); err != nil || c.Text != want {
			t.Fatalf("comment %s (%v), want %q", m.Payload(), err, want)
		}
		if m.Qos() != 2 {
			t.Fatalf("delivered at QoS %d, want 2", m.Qos())
		}
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
