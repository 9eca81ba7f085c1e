package mqtt

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzReadPacket feeds arbitrary bytes to the packet reader and every
// body parser: errors are fine, panics are not, and whatever decodes
// re-encodes to a packet that decodes the same.
func FuzzReadPacket(f *testing.F) {
	f.Add(AppendConnect(nil, &Connect{ClientID: "c", CleanSession: true, Username: "u", Password: []byte("p"), HasPassword: true,
		Will: &Message{Topic: "w", Payload: []byte("x"), QoS: 1}}))
	f.Add(AppendPublish(nil, Message{Topic: "live/a/post", Payload: []byte("hi"), QoS: 1}, false, 7))
	f.Add(AppendSubscribe(nil, 3, Filter{Topic: "live/+/comments", QoS: 1}, Filter{Topic: "#"}))
	f.Add([]byte{0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'})
	f.Add([]byte{0x10, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x30, 0x03, 0x00, 0x01, 0xff})
	// From the conformance tables (conformance_test.go).
	f.Add(AppendSubscribe(nil, 0, Filter{Topic: "a/b"}))
	f.Add(connectPacket("MQTT", 4, 0x02|0x04, "c", "status/#", "gone"))
	f.Add(connectPacket("MQTT", 4, 0x02|0x40, "c", "secret"))
	f.Add([]byte{typeUnsubscribe<<4 | 2, 2, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body, err := readPacket(bufio.NewReader(bytes.NewReader(data)), 1<<16, nil)
		if err != nil {
			return
		}
		flags := h & 0x0f
		switch h >> 4 {
		case typeConnect:
			c, err := parseConnect(flags, body)
			if err == nil && c.Level == 4 {
				_, b2, err := readPacket(bufio.NewReader(bytes.NewReader(AppendConnect(nil, c))), 1<<16, nil)
				again := &Connect{}
				if err == nil {
					again, err = parseConnect(0, b2)
				}
				if err != nil || again.ClientID != c.ClientID || again.CleanSession != c.CleanSession {
					t.Fatalf("CONNECT does not round-trip: %+v vs %+v (%v)", c, again, err)
				}
			}
		case typePublish:
			p, err := parsePublish(flags, body)
			if err == nil {
				enc := AppendPublish(nil, p.Message, p.Dup, p.PacketID)
				h2, b2, err := readPacket(bufio.NewReader(bytes.NewReader(enc)), 1<<16, nil)
				if err != nil || h2 != h || !bytes.Equal(b2, body) {
					t.Fatalf("PUBLISH does not round-trip: %x %x vs %x %x (%v)", h, body, h2, b2, err)
				}
			}
		case typeSubscribe:
			parseSubscribe(flags, body)
		case typeUnsubscribe:
			parseUnsubscribe(flags, body)
		default:
			parsePacketID(body)
		}
	})
}

// FuzzReadPacketInPieces reads the same bytes whole and in pieces of a
// fuzzed size, as a slow or hostile client sends them: the incremental
// body reader gives the same packet, or the same kind of failure, and
// never holds more than twice what arrived.
func FuzzReadPacketInPieces(f *testing.F) {
	f.Add(AppendPublish(nil, Message{Topic: "live/a/post", Payload: bytes.Repeat([]byte("x"), 9000)}, false, 0), uint16(1))
	f.Add(AppendConnect(nil, &Connect{ClientID: "c", CleanSession: true}), uint16(3))
	f.Add([]byte{0x30, 0x80, 0xf4, 0x03, 0x00, 0x04, 'l', 'i'}, uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, piece uint16) {
		h1, b1, err1 := readPacket(bufio.NewReader(bytes.NewReader(data)), 1<<16, nil)
		r := &pieces{b: data, n: int(piece%4096) + 1}
		h2, b2, err2 := readPacket(bufio.NewReaderSize(r, 16), 1<<16, nil)
		if (err1 == nil) != (err2 == nil) || h1 != h2 || !bytes.Equal(b1, b2) {
			t.Fatalf("whole: %x %d bytes %v; in pieces of %d: %x %d bytes %v", h1, len(b1), err1, r.n, h2, len(b2), err2)
		}
		if err2 == nil && cap(b2) > max(len(b2), firstChunk) {
			t.Fatalf("a %d-byte body held %d bytes", len(b2), cap(b2))
		}
	})
}

// pieces reads at most n bytes at a time.
type pieces struct {
	b []byte
	n int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	k := copy(b[:min(len(b), p.n)], p.b)
	p.b = p.b[k:]
	return k, nil
}
