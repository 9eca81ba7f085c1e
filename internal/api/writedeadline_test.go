package api

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteDeadlineCutsStalledReader: a response to a client that stops
// reading fails its write within the deadline instead of holding the
// handler for ever; a prompt client on a reused connection is not
// affected by deadlines of earlier requests.
func TestWriteDeadlineCutsStalledReader(t *testing.T) {
	writeErr := make(chan error, 1)
	big := []byte(strings.Repeat("x", 1<<20))
	h := WriteDeadline(200*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		for range 64 { // 64 MiB: more than any socket buffer
			if _, err := w.Write(big); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-writeErr:
		if err == nil {
			t.Fatal("64 MiB written to a reader that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler is still blocked on a stalled reader after 10s")
	}

	// A keep-alive connection idle for longer than the deadline still
	// answers its next request.
	c2, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	br := bufio.NewReader(c2)
	for i := range 2 {
		fmt.Fprintf(c2, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("request %d on a reused connection: %v %v", i, err, resp)
		}
		resp.Body.Close()
		time.Sleep(300 * time.Millisecond) // idle past the deadline, on purpose
	}
}
