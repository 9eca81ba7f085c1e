package live

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func pahoConnect(t *testing.T, broker, id, password string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetAutoReconnect(false).SetConnectRetry(false)
	if password != "" {
		o.SetUsername("viewer").SetPassword(password)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func pahoSubscribe(t *testing.T, c paho.Client, filter string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 1000)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { ch <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	if code := tok.(*paho.SubscribeToken).Result()[filter]; code != 1 {
		t.Fatalf("subscribe %s: granted %#x", filter, code)
	}
	return ch
}

func next(t *testing.T, ch <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no message arrived")
	}
	return nil
}

func TestRoomOverMQTT(t *testing.T) {
	h := newHarness(t, testConfig)
	broker := "tcp://" + h.mqtt
	watcher := pahoConnect(t, broker, "anon-watcher", "")
	comments := pahoSubscribe(t, watcher, "live/curling/comments")

	tok := h.token("u1", "Li Wei")
	poster := pahoConnect(t, broker, "u1-phone", tok)
	rejected := pahoSubscribe(t, poster, "live/curling/rejected/u1")
	mine := pahoSubscribe(t, poster, "live/curling/comments")

	pub := func(text string) {
		t.Helper()
		tk := poster.Publish("live/curling/post", 1, false, text)
		if !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
			t.Fatalf("post: %v", tk.Error())
		}
	}
	pub("Great stone!")
	for _, ch := range []<-chan paho.Message{comments, mine} {
		var c Comment
		m := next(t, ch)
		if err := json.Unmarshal(m.Payload(), &c); err != nil {
			t.Fatalf("comment %s: %v", m.Payload(), err)
		}
		if c.Text != "Great stone!" || c.User != "u1" || c.Name != "Li Wei" || c.Room != "curling" || c.ID == "" || c.Time.IsZero() {
			t.Fatalf("comment %+v", c)
		}
	}

	t.Run("banned word in disguise", func(t *testing.T) {
		pub("visit ＳＰＡＭＬＩＮＫ today")
		var rj Rejection
		json.Unmarshal(next(t, rejected).Payload(), &rj)
		if rj.Reason != reasonBanned || rj.User != "u1" {
			t.Fatalf("rejection %+v, want banned_word", rj)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		pub("second")
		pub("third")
		next(t, comments)
		next(t, comments)
		pub("fourth") // 3/1m: this one is refused
		var rj Rejection
		json.Unmarshal(next(t, rejected).Payload(), &rj)
		if rj.Reason != reasonRate {
			t.Fatalf("rejection %+v, want rate_limited", rj)
		}
	})
	t.Run("viewers cannot publish comments", func(t *testing.T) {
		rogue := pahoConnect(t, broker, "rogue", h.token("u2", "Rogue"))
		rogue.Publish("live/curling/comments", 1, false, "fake").WaitTimeout(2 * time.Second)
		eventually(t, "the rogue connection to close", func() bool { return !rogue.IsConnectionOpen() })
		select {
		case m := <-comments:
			t.Fatalf("a viewer's direct publish reached the room: %s", m.Payload())
		case <-time.After(200 * time.Millisecond):
		}
	})
	t.Run("subscribing to everything is refused", func(t *testing.T) {
		for _, f := range []string{"#", "live/#", "live/curling/rejected/someone-else", "live/downhill/comments", "$SYS/#"} {
			tk := watcher.Subscribe(f, 0, nil)
			tk.WaitTimeout(5 * time.Second)
			if code := tk.(*paho.SubscribeToken).Result()[f]; code != 0x80 {
				t.Errorf("subscribe %q granted %#x, want refused", f, code)
			}
		}
	})
	t.Run("anonymous viewers cannot post", func(t *testing.T) {
		watcher.Publish("live/curling/post", 1, false, "hi").WaitTimeout(2 * time.Second)
		eventually(t, "the anonymous poster to be dropped", func() bool { return !watcher.IsConnectionOpen() })
	})
	t.Run("wrong password", func(t *testing.T) {
		o := paho.NewClientOptions().AddBroker(broker).SetClientID("bad").SetUsername("x").SetPassword("lvt_forged.sig")
		c := paho.NewClient(o)
		tk := c.Connect()
		tk.WaitTimeout(5 * time.Second)
		if tk.Error() == nil {
			c.Disconnect(0)
			t.Fatal("a forged token connected")
		}
	})
}

func TestWebSocketViewer(t *testing.T) {
	h := newHarness(t, testConfig)
	ws := pahoConnect(t, "ws://"+h.srv.Listener.Addr().String()+"/mqtt", "browser", "")
	ch := pahoSubscribe(t, ws, "live/alpine/comments")
	tok := h.token("fan", "Fan")
	var c Comment
	if code := h.do("POST", "/v1/live/alpine/comments", tok, map[string]string{"text": "Go go go"}, &c); code != 201 {
		t.Fatalf("post: %d", code)
	}
	m := next(t, ch)
	var got Comment
	json.Unmarshal(m.Payload(), &got)
	if got.ID != c.ID || got.Text != "Go go go" {
		t.Fatalf("websocket viewer got %s, want comment %s", m.Payload(), c.ID)
	}
}

func TestPinnedAndBridgeAreRetained(t *testing.T) {
	h := newHarness(t, testConfig)
	if code := h.do("PUT", "/v1/live/curling/pinned", h.key("studio"), map[string]string{"text": "Welcome to the final"}, nil); code != 204 {
		t.Fatalf("pin: %d", code)
	}
	if code := h.do("PUT", "/v1/live/curling/pinned", h.key("app"), map[string]string{"text": "x"}, nil); code != 403 {
		t.Fatalf("pin without the moderator role: %d, want 403", code)
	}
	// An exchange event on the medals topic, as the exchange stores it.
	if err := h.eng.Conn.Publish("topic.medals.ALP-M-DH", []byte(`{"data":{"event":"ALP-M-DH","gold":"SUI"}}`)); err != nil {
		t.Fatal(err)
	}
	h.eng.Conn.Flush()
	late := pahoConnect(t, "tcp://"+h.mqtt, "late-screen", "")
	pinned := next(t, pahoSubscribe(t, late, "live/curling/pinned"))
	if !pinned.Retained() || string(pinned.Payload()) != `{"text":"Welcome to the final"}` {
		t.Fatalf("pinned %s retained=%v", pinned.Payload(), pinned.Retained())
	}
	eventually(t, "the bridged medal to be retained", func() bool { return len(h.s.retained.match("games/medals/+")) == 1 })
	medal := next(t, pahoSubscribe(t, late, "games/medals/+"))
	if medal.Topic() != "games/medals/ALP-M-DH" || !medal.Retained() {
		t.Fatalf("bridged medal on %s retained=%v", medal.Topic(), medal.Retained())
	}
}

func TestHTTPPostHistoryAndStats(t *testing.T) {
	h := newHarness(t, testConfig)
	tok := h.token("u9", "Nine")
	var ids []string
	for i := range 3 {
		var c Comment
		if code := h.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": fmt.Sprintf("c%d", i)}, &c); code != 201 {
			t.Fatalf("post %d: status %d", i, code)
		}
		ids = append(ids, c.ID)
	}
	var p struct {
		Reason string `json:"reason"`
		Status int    `json:"status"`
	}
	if code := h.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": "c3"}, &p); code != 422 || p.Reason != reasonRate {
		t.Fatalf("fourth post: %d %+v, want 422 rate_limited", code, p)
	}

	var page HistoryPage
	h.do("GET", "/v1/live/curling/comments?after="+ids[0], "", nil, &page)
	if len(page.Comments) != 2 || page.NextAfter != ids[2] || page.AfterFound == nil || !*page.AfterFound {
		t.Fatalf("history after the first: %+v", page)
	}
	h.do("GET", "/v1/live/curling/comments?limit=1", "", nil, &page)
	if len(page.Comments) != 1 || page.NextAfter != ids[2] {
		t.Fatalf("last comment: %+v", page)
	}

	eventually(t, "the room's stats", func() bool {
		var st RoomStats
		h.do("GET", "/v1/live/curling", "", nil, &st)
		return st.Accepted == 3 && st.Rejected[reasonRate] == 1
	})

	cases := []struct {
		name, method, path, bearer string
		body                       any
		want                       int
	}{
		{"token without a key", "POST", "/v1/live/tokens", "", map[string]string{"user": "a", "name": "A"}, 401},
		{"token without the role", "POST", "/v1/live/tokens", h.key("odf"), map[string]string{"user": "a", "name": "A"}, 403},
		{"token with a bad user id", "POST", "/v1/live/tokens", h.key("app"), map[string]string{"user": "a b/c", "name": "A"}, 400},
		{"post with an API key", "POST", "/v1/live/curling/comments", h.key("app"), map[string]string{"text": "x"}, 401},
		{"post to an unknown room", "POST", "/v1/live/nowhere/comments", tok, map[string]string{"text": "x"}, 404},
		{"post without text", "POST", "/v1/live/curling/comments", tok, map[string]string{"txt": "x"}, 400},
		{"room state by a viewer app", "PUT", "/v1/live/curling", h.key("app"), map[string]string{"state": "closed"}, 403},
		{"bad room state", "PUT", "/v1/live/curling", h.key("studio"), map[string]string{"state": "sleepy"}, 400},
		{"bad limit", "GET", "/v1/live/curling/comments?limit=0", "", nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if code := h.as(t).do(c.method, c.path, c.bearer, c.body, nil); code != c.want {
				t.Fatalf("status %d, want %d", code, c.want)
			}
		})
	}

	t.Run("closed room", func(t *testing.T) {
		if code := h.as(t).do("PUT", "/v1/live/alpine", h.key("studio"), map[string]string{"state": "closed"}, nil); code != 200 {
			t.Fatalf("close: %d", code)
		}
		eventually(t, "the closed state to reach the workers", func() bool { return h.s.rooms.get("alpine").State == stateClosed })
		var p struct{ Reason string }
		if code := h.as(t).do("POST", "/v1/live/alpine/comments", h.token("u10", "Ten"), map[string]string{"text": "hello"}, &p); code != 422 || p.Reason != reasonClosed {
			t.Fatalf("post to a closed room: %d %+v", code, p)
		}
	})
}

func (h *harness) as(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// TestTakeoverAcrossProcesses: a client id connecting to a second process
// closes its connection to the first (MQTT's takeover, across replicas).
func TestTakeoverAcrossProcesses(t *testing.T) {
	first := newHarness(t, testConfig)
	second := startHarness(t, first.s.cfg, first.eng)
	lost := make(chan struct{})
	o := paho.NewClientOptions().AddBroker("tcp://" + first.mqtt).SetClientID("phone-7").SetAutoReconnect(false).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	old := paho.NewClient(o)
	if tok := old.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer old.Disconnect(0)
	pahoConnect(t, "tcp://"+second.mqtt, "phone-7", "")
	select {
	case <-lost:
	case <-time.After(15 * time.Second):
		t.Fatal("the first process kept the connection of a client id that connected to the second")
	}
	other := pahoConnect(t, "tcp://"+first.mqtt, "phone-8", "")
	if !other.IsConnectionOpen() {
		t.Fatal("other clients of the first process must stay connected")
	}
}
