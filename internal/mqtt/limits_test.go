package mqtt

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// halfPublish is the fixed header of a PUBLISH that claims 64,000 bytes
// and the first bytes of its topic, and no more.
var halfPublish = []byte{typePublish << 4, 0x80, 0xf4, 0x03, 0x00, 0x04, 'r', 'o'}

// TestHalfPacketsAreClosedAndHoldLittle opens many connections with
// keep-alive 0 that announce a 64,000-byte PUBLISH and stop: each is closed
// once the packet deadline passes, the heap they hold meanwhile is a few
// KiB each (not the announced size), their goroutines go, and a viewer
// beside them keeps receiving.
func TestHalfPacketsAreClosedAndHoldLittle(t *testing.T) {
	h, addr := startHub(t, Options{PacketTimeout: 2 * time.Second})
	viewer := pahoClient(t, addr, "viewer", "", true)
	got := subscribe(t, viewer, "room/a/comments", 0)
	poster := pahoClient(t, addr, "poster", "secret", true)
	runtime.GC()
	before := heapInUse()
	baseG := runtime.NumGoroutine()

	const n = 300
	conns := make([]net.Conn, 0, n)
	for i := range n {
		r := dialRaw(t, addr)
		if code := r.connect(&Connect{ClientID: fmt.Sprintf("half-%d", i), CleanSession: true}); code != Accepted {
			t.Fatalf("connect: %d", code)
		}
		r.write(halfPublish)
		conns = append(conns, r.nc)
	}
	runtime.GC()
	if grown := heapInUse() - before; grown > n*24<<10 {
		t.Errorf("%d half packets hold %d KiB of heap, want under 24 KiB each (the announced size is 62 KiB)", n, grown>>10)
	}
	publish(t, poster, "room/a/comments", 0, false, "still here")
	receive(t, got, "still here")

	for _, nc := range conns {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatal("the server answered a half packet")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a half packet was still open 10 s later; the deadline is 2 s")
		}
	}
	waitFor(t, 10*time.Second, "the half packets' goroutines end", func() bool { return runtime.NumGoroutine() <= baseG+5 })
	if got := h.srv.Stats().PacketTimeouts.Load(); got != n {
		t.Errorf("PacketTimeouts = %d, want %d", got, n)
	}
}

func heapInUse() int {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapInuse)
}

// TestBodyIsReadAsItArrives reads packets sent in pieces, and a body
// announced larger than what comes stays small.
func TestBodyIsReadAsItArrives(t *testing.T) {
	payload := strings.Repeat("x", 50_000)
	pkt := AppendPublish(nil, Message{Topic: "a/b", Payload: []byte(payload)}, false, 0)
	c1, c2 := net.Pipe()
	go func() {
		for i := 0; i < len(pkt); i += 1000 {
			c2.Write(pkt[i:min(i+1000, len(pkt))])
		}
		c2.Close()
	}()
	h, body, err := readPacket(bufio.NewReader(c1), 1<<20, nil)
	if err != nil || h>>4 != typePublish {
		t.Fatalf("readPacket: %x %v", h, err)
	}
	p, err := parsePublish(h&0x0f, body)
	if err != nil || string(p.Payload) != payload {
		t.Fatalf("payload of %d bytes, err %v", len(p.Payload), err)
	}
}

// TestKeepAliveZeroStillHasAnIdleBound closes a silent client that asked
// for no keep-alive once IdleTimeout passes.
func TestKeepAliveZeroStillHasAnIdleBound(t *testing.T) {
	h, addr := startHub(t, Options{IdleTimeout: 300 * time.Millisecond})
	r := dialRaw(t, addr)
	r.connect(&Connect{ClientID: "quiet", CleanSession: true, KeepAlive: 0})
	start := time.Now()
	r.expectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %s", d)
	}
	if h.srv.Stats().IdleTimeouts.Load() != 1 {
		t.Fatal("the idle close was not counted")
	}
}

// suback sends one SUBSCRIBE of filters and returns the SUBACK codes.
func (r *rawClient) subscribeAll(id uint16, filters ...string) []byte {
	r.t.Helper()
	fs := make([]Filter, len(filters))
	for i, f := range filters {
		fs[i] = Filter{Topic: f}
	}
	r.write(AppendSubscribe(nil, id, fs...))
	for {
		h, body, err := r.read()
		if err != nil {
			r.t.Fatalf("suback: %v", err)
		}
		if h>>4 == typeSuback {
			return body[2:]
		}
	}
}

func filters(prefix string, n int) []string {
	fs := make([]string, n)
	for i := range fs {
		fs[i] = fmt.Sprintf("%s/%d", prefix, i)
	}
	return fs
}

// TestSubscriptionCaps refuses filters beyond the connection's and the
// persistent session's caps in the SUBACK, keeps those within, and
// re-subscribing to a held filter is always allowed.
func TestSubscriptionCaps(t *testing.T) {
	h, addr := startHub(t, Options{MaxSubscriptions: 5, MaxSessionSubscriptions: 3})
	login := func(id string, clean bool) *Connect {
		return &Connect{ClientID: id, CleanSession: clean, Username: "u", Password: []byte("secret"), HasPassword: true}
	}
	r := dialRaw(t, addr)
	r.connect(login("clean", true))
	codes := r.subscribeAll(1, filters("t", 8)...)
	if want := []byte{0, 0, 0, 0, 0, 0x80, 0x80, 0x80}; string(codes) != string(want) {
		t.Fatalf("clean session codes %v, want %v", codes, want)
	}
	if codes := r.subscribeAll(2, "t/0", "t/9"); string(codes) != string([]byte{0, 0x80}) {
		t.Fatalf("re-subscribe codes %v", codes)
	}
	p := dialRaw(t, addr)
	p.connect(login("kept", false))
	if codes := p.subscribeAll(1, filters("s", 5)...); string(codes) != string([]byte{0, 0, 0, 0x80, 0x80}) {
		t.Fatalf("persistent session codes %v", codes)
	}
	st := h.srv.Stats()
	if st.SubscribeRefused.Load() != 4 || st.SessionSubRefused.Load() != 2 {
		t.Fatalf("refusals counted %d and %d", st.SubscribeRefused.Load(), st.SessionSubRefused.Load())
	}
	h.mu.Lock()
	saved := len(h.sessions[sessionKey("u", "kept")])
	h.mu.Unlock()
	if saved != 3 {
		t.Fatalf("the saved session holds %d filters, want 3", saved)
	}
}

// TestPersistentSessionsPerOwner refuses an owner's persistent session
// beyond its cap with CONNACK 5, counts the anonymous class as one owner
// with its own cap, and leaves other owners and clean sessions alone.
func TestPersistentSessionsPerOwner(t *testing.T) {
	h, addr := startHub(t, Options{MaxOwnerSessions: 2, MaxAnonymousSessions: 3})
	as := func(user, id string, clean bool) byte {
		c := &Connect{ClientID: id, CleanSession: clean}
		if user != "" {
			c.Username, c.Password, c.HasPassword = user, []byte("secret"), true
		}
		return dialRaw(t, addr).connect(c)
	}
	for i := range 2 {
		if code := as("alice", fmt.Sprint("a", i), false); code != Accepted {
			t.Fatalf("alice's session %d: %d", i, code)
		}
	}
	if code := as("alice", "a2", false); code != RefusedNotAuthorized {
		t.Fatalf("alice's third session: %d, want %d", code, RefusedNotAuthorized)
	}
	if code := as("alice", "a0", false); code != Accepted {
		t.Fatalf("alice returning to a kept session: %d", code)
	}
	if code := as("alice", "c", true); code != Accepted {
		t.Fatalf("alice's clean session: %d", code)
	}
	if code := as("bob", "b0", false); code != Accepted {
		t.Fatalf("bob: %d", code)
	}
	for i := range 3 {
		if code := as("", fmt.Sprint("anon", i), false); code != Accepted {
			t.Fatalf("anonymous %d: %d", i, code)
		}
	}
	if code := as("", "anon3", false); code != RefusedNotAuthorized {
		t.Fatalf("fourth anonymous session: %d", code)
	}
	if got := h.srv.Stats().SessionsRefused.Load(); got != 2 {
		t.Fatalf("SessionsRefused = %d", got)
	}
}

// TestClientIDsBelongToTheirOwner: another user connecting with a client
// id in use gets a session of its own and closes nothing.
func TestClientIDsBelongToTheirOwner(t *testing.T) {
	_, addr := startHub(t, Options{})
	login := func(user string) *Connect {
		return &Connect{ClientID: "screen", Username: user, Password: []byte("secret"), HasPassword: true}
	}
	a := dialRaw(t, addr)
	a.connect(login("alice"))
	a.subscribeAll(1, "room/a/comments")
	b := dialRaw(t, addr)
	b.write(AppendConnect(nil, login("mallory")))
	_, body, err := b.read()
	if err != nil || body[0] != 0 {
		t.Fatalf("mallory got alice's session: %x %v", body, err)
	}
	a.write([]byte{typePingreq << 4, 0})
	if h, _, err := a.read(); err != nil || h>>4 != typePingresp {
		t.Fatalf("alice's connection was taken over: %v", err)
	}
}

// TestRevokeEndsConnectionsAndSessions closes every connection of a
// revoked owner without its will, ends its persistent session, refuses
// its next CONNECT, and leaves other owners connected.
func TestRevokeEndsConnectionsAndSessions(t *testing.T) {
	h, addr := startHub(t, Options{})
	watcher := pahoClient(t, addr, "watcher", "secret", true)
	wills := subscribe(t, watcher, "wills/+", 0)
	other := dialRaw(t, addr)
	other.connect(&Connect{ClientID: "o", CleanSession: true, Username: "bob", Password: []byte("secret"), HasPassword: true})

	var conns []*rawClient
	for i := range 3 {
		r := dialRaw(t, addr)
		r.connect(&Connect{ClientID: fmt.Sprint("m", i), Username: "mod", Password: []byte("secret"), HasPassword: true,
			Will: &Message{Topic: "wills/mod", Payload: []byte("gone")}})
		r.subscribeAll(1, "room/a/comments")
		conns = append(conns, r)
	}
	off := dialRaw(t, addr) // a persistent session left offline
	off.connect(&Connect{ClientID: "m-off", Username: "mod", Password: []byte("secret"), HasPassword: true})
	off.subscribeAll(1, "room/b/comments")
	off.write([]byte{typeDisconnect << 4, 0})
	off.expectClosed()
	waitFor(t, 5*time.Second, "the offline session is saved and its connection gone", func() bool {
		h.srv.mu.Lock()
		conns := len(h.srv.owners["mod"].conns)
		h.srv.mu.Unlock()
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.sessions[sessionKey("mod", "m-off")]) == 1 && conns == 3
	})
	start := time.Now()
	if n := h.revoke("mod"); n != 3 {
		t.Fatalf("Revoke closed %d connections, want 3", n)
	}
	for _, r := range conns {
		r.expectClosed()
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("closing took %s", d)
	}
	waitFor(t, 5*time.Second, "the sessions end", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.sessions) == 0
	})
	if h.srv.Subscribers("room/a/comments") != 0 || h.srv.Subscribers("room/b/comments") != 0 {
		t.Fatal("a revoked session still subscribes")
	}
	r := dialRaw(t, addr)
	if code := r.connect(&Connect{ClientID: "m0", Username: "mod", Password: []byte("secret"), HasPassword: true}); code != RefusedNotAuthorized {
		t.Fatalf("a revoked owner's CONNECT: %d", code)
	}
	other.write([]byte{typePingreq << 4, 0})
	if hd, _, err := other.read(); err != nil || hd>>4 != typePingresp {
		t.Fatalf("another owner was disconnected: %v", err)
	}
	select {
	case m := <-wills:
		t.Fatalf("a revoked client's will was sent: %s", m.Payload())
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSlowReaderOfAcksIsClosed: a client that publishes QoS 1 without
// ever reading is disconnected once its unread acks pass twice MaxQueued.
func TestSlowReaderOfAcksIsClosed(t *testing.T) {
	h, addr := startHub(t, Options{MaxQueued: 1 << 10})
	r := dialRaw(t, addr)
	r.connect(&Connect{ClientID: "p", CleanSession: true, Username: "u", Password: []byte("secret"), HasPassword: true})
	r.nc.(*net.TCPConn).SetReadBuffer(1024)
	var batch []byte
	for i := 1; i <= 2000; i++ {
		batch = AppendPublish(batch, Message{Topic: "x/y", Payload: []byte("p"), QoS: 1}, false, uint16(i))
	}
	// The server's socket buffers absorb some acks; keep sending until it
	// gives up on this client.
	waitFor(t, 20*time.Second, "the slow reader is closed", func() bool {
		r.nc.SetWriteDeadline(time.Now().Add(time.Second))
		r.nc.Write(batch)
		return h.srv.Stats().SlowClosed.Load() > 0
	})
}

// TestMaxConnections closes a connection past the cap at once, logged in
// or not, and admits one again when a place frees.
func TestMaxConnections(t *testing.T) {
	h, addr := startHub(t, Options{MaxConnections: 3})
	a := dialRaw(t, addr)
	a.connect(&Connect{ClientID: "a", CleanSession: true})
	dialRaw(t, addr) // CONNECT pending: it counts too
	dialRaw(t, addr)
	waitFor(t, 5*time.Second, "three connections open", func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return len(h.srv.conns) == 3
	})
	over := dialRaw(t, addr)
	over.expectClosed()
	if h.srv.Stats().Full.Load() != 1 {
		t.Fatal("the refusal was not counted")
	}
	a.write([]byte{typeDisconnect << 4, 0})
	a.expectClosed()
	waitFor(t, 5*time.Second, "a place frees", func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return len(h.srv.conns) == 2
	})
	if code := dialRaw(t, addr).connect(&Connect{ClientID: "b", CleanSession: true}); code != Accepted {
		t.Fatalf("connect after a place freed: %d", code)
	}
}
