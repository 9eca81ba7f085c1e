package interop

import (
	"bufio"
	"bytes"
	"testing"
)

// TestWireRoundTrip: the suite's own codec reads back what it writes, at
// the edges of the remaining length's encoding.
func TestWireRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 70000} {
		m := Message{Topic: "TopicA/B", Payload: bytes.Repeat([]byte{'x'}, n), QoS: 2, Retain: true}
		p, err := ReadPacket(bufio.NewReader(bytes.NewReader(EncodePublish(m, true, 513))), 1<<20)
		if err != nil {
			t.Fatalf("payload of %d bytes: %v", n, err)
		}
		got, err := DecodePublish(p)
		if err != nil || got.Topic != m.Topic || !bytes.Equal(got.Payload, m.Payload) || got.QoS != 2 || !got.Retain || !got.Dup || got.ID != 513 {
			t.Fatalf("payload of %d bytes: got %+v (%v)", n, got, err)
		}
	}
	if _, err := ReadPacket(bufio.NewReader(bytes.NewReader([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01})), 1<<20); err == nil {
		t.Fatal("a remaining length of five bytes was read")
	}
	if p := (Packet{Header: Pubrel<<4 | 2, Body: EncodeAck(Pubrel, 7)[2:]}); p.Type() != Pubrel || p.ID() != 7 {
		t.Fatalf("PUBREL: type %d id %d", p.Type(), p.ID())
	}
}
