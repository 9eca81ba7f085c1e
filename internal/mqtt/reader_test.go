package mqtt

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestConnReaderReleasesBufferWhenIdle reads packets that arrive cut in
// pieces from a real socket, and checks that a reader with nothing to read
// holds no buffer.
func TestConnReaderReleasesBufferWhenIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cr := newConnReader(server)
	if cr.raw == nil {
		t.Fatal("a TCP connection must be read through its socket")
	}
	big := AppendPublish(nil, Message{Topic: "a/b", Payload: make([]byte, 3*readBufSize)}, false, 0)
	small := AppendPublish(nil, Message{Topic: "a/b", Payload: []byte("hi")}, false, 0)
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, pkt := range [][]byte{big, small} {
		go func() {
			client.Write(pkt[:3])
			client.Write(pkt[3:])
		}()
		if err := cr.ready(); err != nil {
			t.Fatalf("packet %d: ready: %v", i, err)
		}
		h, body, err := readPacket(cr, 1<<20, nil)
		if err != nil || h>>4 != typePublish || len(body) == 0 {
			t.Fatalf("packet %d: header %#x, %d bytes, %v", i, h, len(body), err)
		}
		p, err := parsePublish(h&0x0f, body)
		if err != nil || p.Topic != "a/b" {
			t.Fatalf("packet %d: %+v %v", i, p, err)
		}
	}
	// Nothing more to read: the wait gives the buffer back before it
	// parks, and the deadline ends it (no data ever comes, so its length
	// decides nothing).
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := cr.ready(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ready on an idle socket past its deadline: %v", err)
	}
	if cr.buf != nil {
		t.Fatal("an idle reader still holds its buffer")
	}
	// The client leaves: EOF.
	client.Close()
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := cr.ready(); err == nil {
		t.Fatal("ready after the client closed: no error")
	}
}

// TestConnReaderOnPipe reads through a connection that is not a socket
// (as a WebSocket's is), with a buffer of its own.
func TestConnReaderOnPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cr := newConnReader(b)
	if cr.raw != nil {
		t.Fatal("a pipe has no socket")
	}
	pkt := AppendPublish(nil, Message{Topic: "x", Payload: []byte("payload")}, false, 0)
	go a.Write(pkt)
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, body, err := readPacket(cr, 1<<20, nil)
	if err != nil || h>>4 != typePublish {
		t.Fatalf("header %#x, %v", h, err)
	}
	if p, err := parsePublish(h&0x0f, body); err != nil || string(p.Payload) != "payload" {
		t.Fatalf("%+v %v", p, err)
	}
}
