package exchange

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

const streamsConfig = `
exchange:
  max_body: 1MiB
  streams_per_client: 2
  stream_stall: 500ms
topics:
  blobs:
    publishers: [pub]
    subscribers: [sub, sub2]
  roster:
    kind: sync
    key: /id
    publishers: [pub]
    subscribers: [sub]
clients:
  pub: {}
  sub: {}
  sub2: {}
`

// metric reads one labelled series of the harness's registry.
func (h *harness) metric(name, kind string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					if m.Gauge != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestStreamsPerClientCap: a client holding its cap of open streams is
// refused the next with a 429 naming the cap; another client is not
// affected; closing a stream frees its slot.
func TestStreamsPerClientCap(t *testing.T) {
	h := newHarnessWith(t, streamsConfig)
	sub, sub2 := h.key("sub"), h.key("sub2")
	a := h.stream(sub, "blobs", "")
	b := h.stream(sub, "blobs", "")
	if a.resp.StatusCode != 200 || b.resp.StatusCode != 200 {
		t.Fatalf("first two streams: %d %d", a.resp.StatusCode, b.resp.StatusCode)
	}
	r := h.do("GET", "/v1/topics/blobs/stream", sub, nil)
	p := problem(t, r, http.StatusTooManyRequests, "/v1/topics/blobs/stream")
	if !strings.Contains(p.Detail, "2 open streams") || !strings.Contains(p.Detail, "exchange.streams_per_client") {
		t.Errorf("429 detail %q does not name the cap", p.Detail)
	}
	// A long pull counts too; a pull that does not wait does not.
	h.mustPutSub(sub, "capped", `{"topic":"blobs"}`)
	if _, err := h.tryPull(sub, "capped", 1, "1s"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("long pull at the cap: %v, want 429", err)
	}
	if _, err := h.tryPull(sub, "capped", 1, ""); err != nil {
		t.Errorf("pull without wait at the cap: %v", err)
	}
	if got := h.metric("stadion_http_streams_refused_total", "sse"); got != 1 {
		t.Errorf("refused sse = %v, want 1", got)
	}
	if c := h.stream(sub2, "blobs", ""); c.resp.StatusCode != 200 {
		t.Errorf("another client's stream: %d", c.resp.StatusCode)
	}
	a.close()
	eventually(t, 5*time.Second, "slot freed", func() bool {
		r := h.do("GET", "/v1/topics/roster/snapshot", sub, nil)
		return r.status == http.StatusOK
	})
}

// TestStreamStalledReaderIsCut: a reader that stops reading is cut after
// the stall bound, its slot is freed, and the server's engine connection
// is never a slow consumer; a reader beside it keeps receiving.
func TestStreamStalledReaderIsCut(t *testing.T) {
	h := newHarnessWith(t, streamsConfig)
	pub, sub, sub2 := h.key("pub"), h.key("sub"), h.key("sub2")
	pad := strings.Repeat("x", 512<<10)
	for i := range 24 { // 12 MiB: more than the socket buffers hold
		h.mustPublish(pub, "blobs", fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad))
	}
	conn := dialSmallBuffer(t, h.srv.Listener.Addr().String())
	fmt.Fprintf(conn, "GET /v1/topics/blobs/stream?after_seq=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", sub)
	status, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.Contains(status, "200") {
		t.Fatalf("stream: %q", status)
	}
	// Now it reads no more.
	eventually(t, 10*time.Second, "stalled stream cut", func() bool {
		return h.metric("stadion_http_streams_closed_slow_total", "sse") == 1 &&
			h.metric("stadion_http_streams_open", "sse") == 0
	})
	legit := h.stream(sub2, "blobs", "")
	rc := h.mustPublish(pub, "blobs", `{"n":99}`)
	legit.expect(rc.Seq)
	if st := h.eng.Conn.Stats(); st.Reconnects != 0 || !h.eng.Conn.IsConnected() {
		t.Errorf("engine connection: reconnects %d, connected %v", st.Reconnects, h.eng.Conn.IsConnected())
	}
}

// dialSmallBuffer connects with a 4 KiB receive buffer, so that the
// server's writes fill it quickly.
func dialSmallBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRevocationEndsStreams: revoking a key ends its open SSE stream and
// its waiting pull within a second; another key's stream goes on.
func TestRevocationEndsStreams(t *testing.T) {
	h := newHarnessWith(t, streamsConfig)
	pub := h.key("pub")
	key, id := h.keyWithID("sub")
	other := h.key("sub2")
	s := h.stream(key, "blobs", "")
	keep := h.stream(other, "blobs", "")
	h.mustPutSub(key, "revoked", `{"topic":"blobs"}`)
	pulled := make(chan error, 1)
	go func() {
		_, err := h.tryPull(key, "revoked", 1, "30s")
		pulled <- err
	}()
	eventually(t, 5*time.Second, "pull waiting", func() bool { return h.metric("stadion_http_streams_open", "pull") == 1 })

	if r := h.do("DELETE", "/v1/clients/sub/keys/"+id, h.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	revoked := time.Now()
	select {
	case _, ok := <-s.events:
		if ok {
			t.Fatal("an event arrived instead of the end")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("SSE stream still open 2s after revocation")
	}
	select {
	case err := <-pulled:
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("waiting pull after revocation: %v, want 401 naming the revocation", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("waiting pull still open 2s after revocation")
	}
	if d := time.Since(revoked); d > time.Second {
		t.Errorf("streams ended %v after revocation, want within 1s", d)
	}
	rc := h.mustPublish(pub, "blobs", `{"n":1}`)
	keep.expect(rc.Seq)
}

// TestReservedSubscriptionNames: the bucket's internal entries are not
// subscriptions, and no answer quotes them.
func TestReservedSubscriptionNames(t *testing.T) {
	h := newHarness(t)
	secret := string(h.x.consumerKey)
	for _, m := range []string{"GET", "DELETE"} {
		for _, path := range []string{"/v1/subscriptions/_consumer-key", "/v1/subscriptions/_consumer-key/dead-letters"} {
			r := h.do(m, path, h.admin, nil)
			if r.status != http.StatusNotFound {
				t.Errorf("%s %s: %d %s, want 404", m, path, r.status, r.body)
			}
			if strings.Contains(string(r.body), secret[:1]) && strings.Contains(string(r.body), "invalid character") {
				t.Errorf("%s %s quotes the secret: %s", m, path, r.body)
			}
		}
	}
	r := h.do("POST", "/v1/subscriptions/_consumer-key/pull", h.admin, []byte(`{}`), "Content-Type", "application/json")
	if r.status != http.StatusNotFound {
		t.Errorf("pull _consumer-key: %d %s", r.status, r.body)
	}
	if r := h.putSub(h.admin, "_consumer-key", `{"topic":"laps"}`); r.status != http.StatusBadRequest {
		t.Errorf("PUT _consumer-key: %d %s", r.status, r.body)
	}
}
