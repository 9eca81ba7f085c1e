package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/stadion-dev/stadion/internal/mqtt/interop"
)

// The tests in this file speak MQTT to the live front-end of a real
// `stadion up`: the Paho interoperability scenarios where they apply, and
// Paho and mosquitto clients at QoS 0, 1 and 2. In the front-end a viewer
// publishes a comment to live/{room}/post and every subscriber of
// live/{room}/comments gets it once moderated (as JSON), so the scenarios
// are the suite's with those topics; docs/mqtt-conformance.md says which
// apply and why the others do not.

// frontEnd is a running stadion with the interop configuration.
type frontEnd struct {
	p *proc
}

func startFrontEnd(t *testing.T) *frontEnd {
	t.Helper()
	return &frontEnd{p: startProc(t, t.TempDir(), "--config", "testdata/live-interop/stadion.yaml")}
}

// viewer is the CONNECT of a viewer with a token for user.
func (f *frontEnd) viewer(user string, o interop.ConnectOptions) interop.ConnectOptions {
	o.Username, o.Password = user, f.p.viewerToken(user)
	return o
}

// newInteropClient is an interoperability client with generous
// deadlines: a comment passes moderation (an engine write) on a shared
// machine before it arrives.
func newInteropClient(id string) *interop.Client {
	c := interop.NewClient(id)
	c.Timeout = 30 * time.Second
	return c
}

// texts decodes the comments a client received, sorted: comments posted
// one after the other may be moderated in parallel batches, so their
// order is not what these tests check.
func texts(t *testing.T, ms []interop.Message) []string {
	t.Helper()
	var out []string
	for _, m := range ms {
		var c struct{ Text string }
		if err := json.Unmarshal(m.Payload, &c); err != nil {
			t.Fatalf("comment %q on %s: %v", m.Payload, m.Topic, err)
		}
		out = append(out, c.Text)
	}
	slices.Sort(out)
	return out
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestLiveFrontEndInterop runs the interoperability scenarios that apply
// to the front-end, and real clients at each QoS, against one stadion.
func TestLiveFrontEndInterop(t *testing.T) {
	f := startFrontEnd(t)
	addr := f.p.mqtt
	comments := func(room string) string { return "live/" + room + "/comments" }
	post := func(room string) string { return "live/" + room + "/post" }

	t.Run("paho at QoS 0, 1 and 2", func(t *testing.T) {
		var subs [3]chan paho.Message
		for q := range 3 {
			subs[q] = make(chan paho.Message, 10)
			c := pahoConnect(t, addr, fmt.Sprint("paho-sub-", q), "", "")
			tok := c.Subscribe(comments("tb"), byte(q), func(_ paho.Client, m paho.Message) { subs[q] <- m })
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
		}
		poster := pahoConnect(t, addr, "paho-poster", "paho", f.p.viewerToken("paho"))
		for q := range 3 {
			tok := poster.Publish(post("tb"), byte(q), false, fmt.Sprintf("paho qos %d", q))
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("post at QoS %d: %v", q, tok.Error())
			}
		}
		for q := range 3 {
			var got []string
			for i := range 3 {
				select {
				case m := <-subs[q]:
					var c struct{ Text string }
					json.Unmarshal(m.Payload(), &c)
					if int(m.Qos()) != q {
						t.Fatalf("subscriber at QoS %d got %q at QoS %d", q, c.Text, m.Qos())
					}
					got = append(got, c.Text)
				case <-time.After(15 * time.Second):
					t.Fatalf("subscriber at QoS %d got %d comments, want 3", q, i)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"paho qos 0", "paho qos 1", "paho qos 2"}) {
				t.Fatalf("subscriber at QoS %d got %q", q, got)
			}
		}
	})

	t.Run("mosquitto_pub and mosquitto_sub at QoS 0, 1 and 2", func(t *testing.T) {
		sub := needTool(t, "mosquitto_sub", "mosquitto-clients")
		pub := needTool(t, "mosquitto_pub", "mosquitto-clients")
		host, port, _ := strings.Cut(addr, ":")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var outs [3]*syncWriter
		var cmds [3]*exec.Cmd
		for q := range 3 {
			outs[q] = &syncWriter{w: &strings.Builder{}}
			cmds[q] = exec.CommandContext(ctx, sub, "-h", host, "-p", port, "-q", fmt.Sprint(q), "-t", comments("tc"), "-C", "3", "-F", "%q %p")
			cmds[q].Stdout = outs[q]
			if err := cmds[q].Start(); err != nil {
				t.Fatal(err)
			}
			cmd := cmds[q]
			t.Cleanup(func() {
				if cmd.ProcessState == nil { // the test failed before waiting for it
					cmd.Process.Kill()
					cmd.Wait()
				}
			})
		}
		tok := f.p.viewerToken("mosq")
		for q := range 3 {
			// Posted only once every mosquitto_sub is subscribed.
			if q == 0 {
				waitSubscribers(t, f.p, "tc", 3)
			}
			cmd := exec.CommandContext(ctx, pub, "-h", host, "-p", port, "-u", "mosq", "-P", tok, "-t", post("tc"),
				"-q", fmt.Sprint(q), "-m", fmt.Sprintf("mosquitto qos %d", q))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub -q %d: %v\n%s", q, err, b)
			}
		}
		for q := range 3 {
			if err := cmds[q].Wait(); err != nil {
				t.Fatalf("mosquitto_sub -q %d: %v (got %s)", q, err, outs[q].w)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(outs[q].w.(*strings.Builder).String()), "\n") {
				gotQoS, payload, _ := strings.Cut(line, " ")
				var c struct{ Text string }
				json.Unmarshal([]byte(payload), &c)
				if gotQoS != fmt.Sprint(q) {
					t.Fatalf("mosquitto_sub -q %d printed %q: delivered at QoS %s", q, line, gotQoS)
				}
				got = append(got, c.Text)
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"mosquitto qos 0", "mosquitto qos 1", "mosquitto qos 2"}) {
				t.Fatalf("mosquitto_sub -q %d got %q", q, got)
			}
		}
	})

	t.Run("basic", func(t *testing.T) {
		a := newInteropClient("basic-a")
		defer a.Terminate()
		o := f.viewer("basic", interop.ConnectOptions{CleanSession: true})
		_, err := a.Connect(addr, o)
		must(t, "connect", err)
		must(t, "disconnect", a.Disconnect())
		present, err := a.Connect(addr, o)
		if err != nil || present {
			t.Fatalf("connect again: session present %v, %v", present, err)
		}
		_, err = a.Subscribe([]string{comments("ta")}, []byte{2})
		must(t, "subscribe", err)
		for q := range byte(3) {
			must(t, "post", a.Publish(post("ta"), fmt.Appendf(nil, "basic qos %d", q), q, false))
		}
		must(t, "comments", a.WaitMessages(3))
		must(t, "settle", a.Ping())
		if got := texts(t, a.Messages()); !slices.Equal(got, []string{"basic qos 0", "basic qos 1", "basic qos 2"}) {
			t.Fatalf("comments %q", got)
		}
		if _, err := a.ConnectAgain(o); err == nil {
			t.Fatal("a second CONNECT on one connection was accepted")
		}
		o.ProtocolName = "hj"
		if _, err := a.Connect(addr, o); err == nil {
			t.Fatal(`a CONNECT with protocol name "hj" was accepted`)
		}
	})

	t.Run("retained messages", func(t *testing.T) {
		// The moderator's pins are the front-end's retained messages.
		a := newInteropClient("retained-a")
		defer a.Terminate()
		admin := interop.ConnectOptions{CleanSession: true, Username: "admin", Password: f.p.admin}
		_, err := a.Connect(addr, admin)
		must(t, "connect", err)
		for q, room := range []string{"ta", "tb", "tc"} {
			must(t, "pin", a.Publish("live/"+room+"/pinned", fmt.Appendf(nil, `{"qos":%d}`, q), byte(q), true))
		}
		_, err = a.Subscribe([]string{"live/+/pinned"}, []byte{2})
		must(t, "subscribe", err)
		must(t, "pins", a.WaitMessages(3))
		must(t, "settle", a.Ping())
		if ms := a.Messages(); len(ms) != 3 || !ms[0].Retain || !ms[1].Retain || !ms[2].Retain {
			t.Fatalf("retained pins %+v, want 3 with RETAIN", ms)
		}
		a.Disconnect()
		a.Clear()
		_, err = a.Connect(addr, admin)
		must(t, "connect", err)
		for q, room := range []string{"ta", "tb", "tc"} {
			must(t, "unpin", a.Publish("live/"+room+"/pinned", nil, byte(q), true))
		}
		_, err = a.Subscribe([]string{"live/+/pinned"}, []byte{2})
		must(t, "subscribe", err)
		must(t, "settle", a.Ping())
		if ms := a.Messages(); len(ms) != 0 {
			t.Fatalf("%d pins after clearing them", len(ms))
		}
	})

	t.Run("will message", func(t *testing.T) {
		a, b := newInteropClient("will-a"), newInteropClient("will-b")
		defer a.Terminate()
		defer b.Terminate()
		will := &interop.Message{Topic: post("tb"), Payload: []byte("client not disconnected")}
		_, err := a.Connect(addr, f.viewer("will-a", interop.ConnectOptions{CleanSession: true, Will: will, KeepAlive: 2}))
		must(t, "connect with a will", err)
		_, err = b.Connect(addr, interop.ConnectOptions{})
		must(t, "connect", err)
		_, err = b.Subscribe([]string{comments("tb")}, []byte{2})
		must(t, "subscribe", err)
		a.Terminate()
		must(t, "the will", b.WaitMessages(1))
		if got := texts(t, b.Messages()); len(got) != 1 || got[0] != "client not disconnected" {
			t.Fatalf("got %q, want the will", got)
		}
	})

	t.Run("zero length client id", func(t *testing.T) {
		c := newInteropClient("")
		defer c.Terminate()
		var refused interop.RefusedError
		if _, err := c.Connect(addr, interop.ConnectOptions{}); !errors.As(err, &refused) || refused.Code != 2 {
			t.Fatalf("zero-length id with cleanSession 0: %v, want CONNACK 2", err)
		}
		_, err := c.Connect(addr, interop.ConnectOptions{CleanSession: true})
		must(t, "zero-length id with cleanSession 1", err)
	})

	t.Run("offline message queueing", func(t *testing.T) {
		a, b := newInteropClient("offline-a"), newInteropClient("offline-b")
		defer a.Terminate()
		defer b.Terminate()
		_, err := a.Connect(addr, interop.ConnectOptions{})
		must(t, "connect", err)
		_, err = a.Subscribe([]string{comments("tc")}, []byte{2})
		must(t, "subscribe", err)
		must(t, "disconnect", a.Disconnect())
		_, err = b.Connect(addr, f.viewer("offline-b", interop.ConnectOptions{CleanSession: true}))
		must(t, "connect", err)
		for q := range byte(3) {
			must(t, "post", b.Publish(post("tc"), fmt.Appendf(nil, "offline qos %d", q), q, false))
		}
		b.Disconnect()
		present, err := a.Connect(addr, interop.ConnectOptions{})
		if err != nil || !present {
			t.Fatalf("reconnect: session present %v, %v", present, err)
		}
		// The server publishes comments, at the subscription's QoS: all
		// three are queued, whatever QoS they were posted at.
		must(t, "queued comments", a.WaitMessages(3))
	})

	t.Run("overlapping subscriptions", func(t *testing.T) {
		a := newInteropClient("overlap-a")
		defer a.Terminate()
		_, err := a.Connect(addr, f.viewer("overlap", interop.ConnectOptions{CleanSession: true}))
		must(t, "connect", err)
		_, err = a.Subscribe([]string{comments("ta"), "live/+/comments"}, []byte{2, 1})
		must(t, "subscribe", err)
		must(t, "post", a.Publish(post("ta"), []byte("overlapping topic filters"), 2, false))
		must(t, "comment", a.WaitMessages(2)) // one per subscription
		must(t, "settle", a.Ping())
		ms := a.Messages()
		if len(ms) != 2 || ms[0].QoS+ms[1].QoS != 3 {
			t.Fatalf("got %+v, want the comment once per subscription, at QoS 2 and 1", ms)
		}
	})

	t.Run("keepalive", func(t *testing.T) {
		a, b := newInteropClient("keepalive-a"), newInteropClient("keepalive-b")
		defer a.Terminate()
		defer b.Terminate()
		_, err := b.Connect(addr, interop.ConnectOptions{CleanSession: true})
		must(t, "connect", err)
		_, err = b.Subscribe([]string{comments("tb")}, []byte{2})
		must(t, "subscribe", err)
		will := &interop.Message{Topic: post("tb"), Payload: []byte("keepalive expiry")}
		_, err = a.Connect(addr, f.viewer("keepalive-a", interop.ConnectOptions{CleanSession: true, KeepAlive: 1, Will: will}))
		must(t, "connect", err)
		must(t, "the will of a silent client", b.WaitMessages(1))
		if got := texts(t, b.Messages()); got[0] != "keepalive expiry" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("redelivery on reconnect", func(t *testing.T) {
		b := newInteropClient("redelivery-b")
		defer b.Terminate()
		o := f.viewer("redelivery", interop.ConnectOptions{})
		_, err := b.Connect(addr, o)
		must(t, "connect", err)
		_, err = b.Subscribe([]string{comments("tc")}, []byte{2})
		must(t, "subscribe", err)
		b.Pause()
		must(t, "post at QoS 1", b.Publish(post("tc"), []byte("redelivered 1"), 1, false))
		must(t, "post at QoS 2", b.Publish(post("tc"), []byte("redelivered 2"), 2, false))
		deadline := time.Now().Add(15 * time.Second)
		for b.Ignored() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if b.Ignored() < 2 {
			t.Fatalf("%d comments sent to the paused client, want 2", b.Ignored())
		}
		must(t, "disconnect", b.Disconnect())
		b.Resume()
		_, err = b.Connect(addr, o)
		must(t, "reconnect", err)
		must(t, "redelivery", b.WaitMessages(2))
		must(t, "settle", b.Ping())
		ms := b.Messages()
		if got := texts(t, ms); !slices.Equal(got, []string{"redelivered 1", "redelivered 2"}) || !ms[0].Dup || !ms[1].Dup {
			t.Fatalf("redelivered %q (DUP %v, %v), want both with DUP", got, ms[0].Dup, ms[1].Dup)
		}
	})

	t.Run("subscribe failure", func(t *testing.T) {
		a := newInteropClient("subfail-a")
		defer a.Terminate()
		_, err := a.Connect(addr, interop.ConnectOptions{CleanSession: true})
		must(t, "connect", err)
		codes, err := a.Subscribe([]string{"test/nosubscribe", "#"}, []byte{2, 2})
		must(t, "subscribe", err)
		if codes[0] != 0x80 || codes[1] != 0x80 {
			t.Fatalf("SUBACK %x, want 0x80 for both", codes)
		}
	})

	t.Run("unsubscribe", func(t *testing.T) {
		a, b, c := newInteropClient("unsub-a"), newInteropClient("unsub-b"), newInteropClient("unsub-c")
		defer a.Terminate()
		defer b.Terminate()
		defer c.Terminate()
		_, err := b.Connect(addr, interop.ConnectOptions{CleanSession: true})
		must(t, "connect", err)
		for _, room := range []string{"ta", "tb", "tc"} {
			_, err := b.Subscribe([]string{comments(room)}, []byte{2})
			must(t, "subscribe", err)
		}
		must(t, "unsubscribe", b.Unsubscribe(comments("ta")))
		// c stays on ta: once it has ta's comment, so would b have.
		_, err = c.Connect(addr, interop.ConnectOptions{CleanSession: true})
		must(t, "connect", err)
		_, err = c.Subscribe([]string{comments("ta")}, []byte{1})
		must(t, "subscribe", err)
		_, err = a.Connect(addr, f.viewer("unsub-a", interop.ConnectOptions{CleanSession: true}))
		must(t, "connect", err)
		for _, room := range []string{"ta", "tb", "tc"} {
			must(t, "post", a.Publish(post(room), []byte("unsubscribe "+room), 1, false))
		}
		must(t, "ta's comment", c.WaitMessages(1))
		must(t, "comments", b.WaitMessages(2))
		must(t, "settle", b.Ping())
		if got := texts(t, b.Messages()); len(got) != 2 || slices.Contains(got, "unsubscribe ta") {
			t.Fatalf("got %q after unsubscribing from ta", got)
		}
	})

}

// pahoConnect connects a Paho client (a viewer when a token is given).
func pahoConnect(t *testing.T, addr, id, user, token string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false)
	if token != "" {
		o.SetUsername(user).SetPassword(token)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// waitSubscribers waits until room counts at least n viewers in this
// process.
func waitSubscribers(t *testing.T, p *proc, room string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var st struct{ Viewers int }
		p.request("GET", "/v1/live/"+room, p.admin, "", &st)
		if st.Viewers >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("room %s never had %d viewers", room, n)
}
