package mqtt

import (
	"context"
	"testing"
	"time"
)

// TestBadClientsAreDroppedOthersKeepReceiving sends what Paho never
// would; each offender is refused or disconnected while a viewer keeps
// receiving.
func TestBadClientsAreDroppedOthersKeepReceiving(t *testing.T) {
	h, addr := startHub(t, Options{MaxPacket: 4096})
	viewer := pahoClient(t, addr, "viewer", "", true)
	got := subscribe(t, viewer, "room/a/comments", 0)
	poster := pahoClient(t, addr, "poster", "secret", true)

	login := &Connect{ClientID: "bad", CleanSession: true, Username: "u", Password: []byte("secret"), HasPassword: true}
	cases := []struct {
		name string
		send func(r *rawClient)
	}{
		{"garbage first packet", func(r *rawClient) { r.write([]byte("GET / HTTP/1.1\r\n\r\n")) }},
		{"remaining length of five bytes", func(r *rawClient) { r.write([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x7f}) }},
		{"truncated connect", func(r *rawClient) {
			r.write([]byte{0x10, 0x05, 0x00, 0x04, 'M'})
			r.nc.(interface{ CloseWrite() error }).CloseWrite()
		}},
		{"oversized publish", func(r *rawClient) {
			r.connect(login)
			r.write(AppendPublish(nil, Message{Topic: "room/a/post", Payload: make([]byte, 8192)}, false, 0))
		}},
		{"invalid UTF-8 topic", func(r *rawClient) {
			r.connect(login)
			r.write(AppendPublish(nil, Message{Topic: "room/\xff\xfe/post", Payload: []byte("x")}, false, 0))
		}},
		{"U+0000 in a topic", func(r *rawClient) {
			r.connect(login)
			r.write(AppendPublish(nil, Message{Topic: "room/\x00/post", Payload: []byte("x")}, false, 0))
		}},
		{"wildcard in a publish topic", func(r *rawClient) {
			r.connect(login)
			r.write(AppendPublish(nil, Message{Topic: "room/+/comments", Payload: []byte("x")}, false, 0))
		}},
		{"publish without permission", func(r *rawClient) {
			r.connect(login)
			r.write(AppendPublish(nil, Message{Topic: "ro/x", Payload: []byte("x")}, false, 0))
		}},
		{"QoS 3", func(r *rawClient) {
			r.connect(login)
			r.write([]byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01})
		}},
		{"QoS 2 publish with packet id 0", func(r *rawClient) {
			r.connect(login)
			r.write(AppendPublish(nil, Message{Topic: "room/a/post", Payload: []byte("x"), QoS: 2}, false, 0))
		}},
		{"PUBREL with flags 0000", func(r *rawClient) {
			r.connect(login)
			r.write([]byte{typePubrel << 4, 2, 0, 1})
		}},
		{"PUBREC with flags 0010", func(r *rawClient) {
			r.connect(login)
			r.write([]byte{typePubrec<<4 | 0x02, 2, 0, 1})
		}},
		{"will with QoS 3", func(r *rawClient) {
			r.write(AppendConnect(nil, &Connect{ClientID: "w", CleanSession: true, Will: &Message{Topic: "a/b", QoS: 3}}))
		}},
		{"second CONNECT", func(r *rawClient) {
			r.connect(login)
			r.write(AppendConnect(nil, login))
		}},
		{"subscribe with bad flags", func(r *rawClient) {
			r.connect(login)
			b := AppendSubscribe(nil, 1, Filter{Topic: "room/a/comments"})
			b[0] = typeSubscribe << 4
			r.write(b)
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			c.send(r)
			r.expectClosed()
			publish(t, poster, "room/a/comments", 0, false, "still here "+c.name)
			receive(t, got, "still here "+c.name)
			_ = i
		})
	}
	if n := h.srv.Stats().Refused.Load(); n < int64(len(cases)) {
		t.Errorf("refused counter %d, want at least %d", n, len(cases))
	}
}

func TestConnectRefusals(t *testing.T) {
	_, addr := startHub(t, Options{})
	cases := []struct {
		name string
		c    *Connect
		want byte
	}{
		{"wrong password", &Connect{ClientID: "x", CleanSession: true, Username: "u", Password: []byte("nope"), HasPassword: true}, RefusedBadCredentials},
		{"persistent session without id", &Connect{CleanSession: false}, RefusedIdentifier},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			if got := r.connect(c.c); got != c.want {
				t.Fatalf("connack %d, want %d", got, c.want)
			}
			r.expectClosed()
		})
	}
	t.Run("protocol level 5", func(t *testing.T) {
		r := dialRaw(t, addr)
		b := AppendConnect(nil, &Connect{ClientID: "x", CleanSession: true})
		b[8] = 5 // the protocol level byte after 0x10, length, "\0\4MQTT"
		r.write(b)
		h, body, err := r.read()
		if err != nil || h>>4 != typeConnack || body[1] != RefusedProtocol {
			t.Fatalf("got %x %x %v, want CONNACK refused protocol", h, body, err)
		}
	})
}

func TestSubscribeRefusedFilter(t *testing.T) {
	_, addr := startHub(t, Options{})
	r := dialRaw(t, addr)
	r.connect(&Connect{ClientID: "x", CleanSession: true})
	r.write(AppendSubscribe(nil, 7, Filter{Topic: "#"}, Filter{Topic: "room/a/comments", QoS: 2}, Filter{Topic: "private/x"}))
	h, body, err := r.read()
	if err != nil || h>>4 != typeSuback {
		t.Fatalf("got %x %v, want SUBACK", h, err)
	}
	want := []byte{0, 7, subackFailure, 2, subackFailure}
	if string(body) != string(want) {
		t.Fatalf("SUBACK body %v, want %v (refused, QoS 2 granted, refused)", body, want)
	}
}

func TestKeepAliveClosesSilentClients(t *testing.T) {
	_, addr := startHub(t, Options{})
	r := dialRaw(t, addr)
	r.connect(&Connect{ClientID: "sleepy", CleanSession: true, KeepAlive: 1})
	start := time.Now()
	r.expectClosed()
	if time.Since(start) < time.Second {
		t.Fatal("closed before the keep-alive ran out")
	}
}

// TestCloseReachesClientsThatNeverConnected: a socket that never sends
// CONNECT does not hold up the server's shutdown for the connect timeout.
func TestCloseReachesClientsThatNeverConnected(t *testing.T) {
	h, addr := startHub(t, Options{ConnectTimeout: time.Hour})
	r := dialRaw(t, addr)
	r.write([]byte{0x10}) // the first byte of a CONNECT, then nothing
	held := func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return len(h.srv.conns) == 1
	}
	for deadline := time.Now().Add(10 * time.Second); !held(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server never took the connection")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Close(ctx); err != nil {
		t.Fatalf("close with a half-connected client: %v", err)
	}
	r.expectClosed()
}
