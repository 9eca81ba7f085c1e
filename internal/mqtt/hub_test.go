package mqtt

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// hub is the smallest Hooks a test needs: messages go straight back to
// the server's local subscribers; retained messages and sessions live in
// maps. The live capability's hooks (engine-backed) are tested in
// internal/live.
type hub struct {
	srv       *Server
	onPublish func(Message) // when set (under mu), sees every message a client publishes
	onClaim   func(string)  // when set (under mu), called as a client id is claimed (attached)
	onSave    func()        // when set (under mu), called before a session is saved

	mu       sync.Mutex
	watched  map[string]bool
	retained map[string]Message
	sessions map[string][]Filter
	revoked  map[string]bool // owners whose credentials are gone
}

type testClient struct {
	h        *hub
	name     string
	readOnly bool
}

func (c *testClient) String() string { return c.name }

func (c *testClient) Owner() string {
	if c.readOnly {
		return ""
	}
	return c.name
}

func (c *testClient) Revoked() bool {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.h.revoked[c.name]
}

// revoke records an owner's revocation, then closes its connections, as
// the live hooks do.
func (h *hub) revoke(name string) int {
	h.mu.Lock()
	h.revoked[name] = true
	h.mu.Unlock()
	return h.srv.Revoke(name)
}

func (c *testClient) CanSubscribe(f string) bool {
	return f != "#" && !strings.HasPrefix(f, "private/")
}

func (c *testClient) Publish(m Message, done func(error)) error {
	if c.readOnly || strings.HasPrefix(m.Topic, "ro/") {
		return errors.New("read-only")
	}
	c.h.mu.Lock()
	f := c.h.onPublish
	c.h.mu.Unlock()
	if f != nil {
		f(m)
	}
	c.h.route(m)
	if done != nil {
		done(nil)
	}
	return nil
}

// Claimed lets a test act in the instant a connection has attached to
// its session but has not been answered yet.
func (h *hub) Claimed(key string) {
	h.mu.Lock()
	f := h.onClaim
	h.mu.Unlock()
	if f != nil {
		f(key)
	}
}

func (h *hub) Authenticate(c *Connect) (Client, byte) {
	switch {
	case !c.HasPassword:
		return &testClient{h: h, name: "anonymous", readOnly: true}, Accepted
	case string(c.Password) == "secret":
		return &testClient{h: h, name: c.Username}, Accepted
	}
	return nil, RefusedBadCredentials
}

func (h *hub) route(m Message) {
	h.mu.Lock()
	if m.Retain {
		if len(m.Payload) == 0 {
			delete(h.retained, m.Topic)
		} else {
			h.retained[m.Topic] = m
		}
	}
	var filters []string
	for f := range h.watched {
		if Match(f, m.Topic) {
			filters = append(filters, f)
		}
	}
	h.mu.Unlock()
	for _, f := range filters {
		h.srv.DeliverQoS(f, m.Topic, m.QoS, [][]byte{m.Payload})
	}
}

func (h *hub) Watch(f string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watched[f] = true
	return nil
}

func (h *hub) Unwatch(f string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.watched, f)
}

func (h *hub) Retained(f string) []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Message
	for t, m := range h.retained {
		if Match(f, t) {
			out = append(out, m)
		}
	}
	return out
}

func (h *hub) LoadSession(id string) ([]Filter, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.sessions[id]
	return f, ok
}

func (h *hub) SaveSession(id string, f []Filter) {
	h.mu.Lock()
	hook := h.onSave
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if f == nil {
		delete(h.sessions, id)
		return
	}
	h.sessions[id] = f
}

// startHub serves a Server with a hub on a loopback port.
func startHub(t testing.TB, o Options) (*hub, string) {
	t.Helper()
	h := &hub{watched: map[string]bool{}, retained: map[string]Message{}, sessions: map[string][]Filter{}, revoked: map[string]bool{}}
	h.srv = NewServer(h, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.srv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return h, ln.Addr().String()
}

// rawClient speaks MQTT byte by byte, for what Paho will not send.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// read returns the next packet, or an error once the server closed the
// connection (or after 10 s of silence).
func (r *rawClient) read() (byte, []byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	return readPacket(r.br, 1<<20, nil)
}

func (r *rawClient) connect(c *Connect) byte {
	r.t.Helper()
	r.write(AppendConnect(nil, c))
	h, body, err := r.read()
	if err != nil || h>>4 != typeConnack || len(body) != 2 {
		r.t.Fatalf("connack: header %x body %x err %v", h, body, err)
	}
	return body[1]
}

// expectClosed waits for the server to close the connection.
func (r *rawClient) expectClosed() {
	r.t.Helper()
	for {
		h, _, err := r.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatal("the server did not close the connection")
			}
			return
		}
		_ = h
	}
}
