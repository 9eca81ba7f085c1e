package rig

import (
	"bytes"
	"testing"
)

// The load generator's packets are the bytes MQTT 3.1.1 prescribes (the
// same as the hand-written encoder produced before it used internal/mqtt).
func TestMQTTPackets(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"connect, no password", MQTTConnectPacket("c", "ignored", ""),
			[]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 1, 'c'}},
		{"connect with password", MQTTConnectPacket("c", "u", "p"),
			[]byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 0, 0, 1, 'c', 0, 1, 'u', 0, 1, 'p'}},
		{"subscribe", mqttSubscribePacket(1, "f"), []byte{0x82, 6, 0, 1, 0, 1, 'f', 0}},
		{"publish", AppendMQTTPublish([]byte{9}, "t", []byte("p")), []byte{9, 0x30, 4, 0, 1, 't', 'p'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Errorf("got % x, want % x", tt.got, tt.want)
			}
		})
	}
}

func TestCommentNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"ts=1;n=42; go team", 42, true},
		{`{"text":"ts=17;n=1152921504606846976;x"}`, 1 << 60, true},
		{"ts=1;n=;", 0, false},
		{"no marker", 0, false},
	} {
		if n, ok := CommentNumber([]byte(tc.in)); n != tc.want || ok != tc.ok {
			t.Errorf("CommentNumber(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.want, tc.ok)
		}
	}
}
