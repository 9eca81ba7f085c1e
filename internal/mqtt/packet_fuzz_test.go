package mqtt

import (
	"bufio"
	"bytes"
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
