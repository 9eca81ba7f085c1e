package rig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

// The load generator of bench live speaks just enough MQTT 3.1.1 to
// connect, subscribe, publish at QoS 0 and ping, with packets encoded by
// internal/mqtt's encoders into reused buffers: a library client would cost
// more CPU per message than the brokers it measures.

// MQTT control packet types (the high nibble of the first byte).
const (
	MQTTConnect    = 1
	MQTTConnack    = 2
	MQTTPublish    = 3
	MQTTSubscribe  = 8
	MQTTSuback     = 9
	MQTTPingreq    = 12
	MQTTPingresp   = 13
	MQTTDisconnect = 14
)

var (
	MQTTPingPacket       = []byte{MQTTPingreq << 4, 0}
	MQTTDisconnectPacket = []byte{MQTTDisconnect << 4, 0}
)

// AppendMQTTLen appends an MQTT variable-length remaining length.
func AppendMQTTLen(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		if n /= 128; n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// MQTTConnectPacket is a clean-session CONNECT with keep-alive 0 (no
// pings; stadion still closes a client silent for live.mqtt.idle_timeout,
// 5 min, longer than any phase of the bench) and, when password is set, a
// username and password.
func MQTTConnectPacket(clientID, user, password string) []byte {
	c := &mqtt.Connect{CleanSession: true, ClientID: clientID}
	if password != "" {
		c.Username, c.Password, c.HasPassword = user, []byte(password), true
	}
	return mqtt.AppendConnect(nil, c)
}

// mqttSubscribePacket subscribes to one filter at QoS 0.
func mqttSubscribePacket(id uint16, filter string) []byte {
	return mqtt.AppendSubscribe(nil, id, mqtt.Filter{Topic: filter})
}

// AppendMQTTPublish appends a QoS 0 PUBLISH of payload to topic.
func AppendMQTTPublish(b []byte, topic string, payload []byte) []byte {
	return mqtt.AppendPublish(b, mqtt.Message{Topic: topic, Payload: payload}, false, 0)
}

// ErrMQTTShort means a buffer holds only part of a packet.
var ErrMQTTShort = errors.New("partial packet")

// NextMQTTPacket splits the first packet off b: its first byte, its body
// and how many bytes it took. errMQTTShort asks for more bytes.
func NextMQTTPacket(b []byte) (head byte, body []byte, n int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, ErrMQTTShort
	}
	size, mult := 0, 1
	for i := 1; ; i++ {
		if i > 4 {
			return 0, nil, 0, errors.New("malformed remaining length")
		}
		if i >= len(b) {
			return 0, nil, 0, ErrMQTTShort
		}
		size += int(b[i]&0x7f) * mult
		mult *= 128
		if b[i]&0x80 == 0 {
			n = i + 1 + size
			if n > len(b) {
				return 0, nil, 0, ErrMQTTShort
			}
			return b[0], b[i+1 : n], n, nil
		}
	}
}

// MQTTPublishPayload returns a PUBLISH body's payload.
func MQTTPublishPayload(head byte, body []byte) ([]byte, bool) {
	if len(body) < 2 {
		return nil, false
	}
	off := 2 + (int(body[0])<<8 | int(body[1]))
	if (head>>1)&3 > 0 {
		off += 2 // packet identifier
	}
	if off > len(body) {
		return nil, false
	}
	return body[off:], true
}

// tsMarker prefixes the send time (Unix nanoseconds) in every comment the
// benchmark publishes; it is found in whatever payload arrives (the text
// verbatim, or stadion's stamped JSON).
var tsMarker = []byte("ts=")

// SentAt finds the send time in a payload; 0 when it has none.
func SentAt(payload []byte) int64 {
	i := bytes.Index(payload, tsMarker)
	if i < 0 {
		return 0
	}
	var ts int64
	for _, c := range payload[i+len(tsMarker):] {
		if c < '0' || c > '9' {
			break
		}
		ts = ts*10 + int64(c-'0')
	}
	return ts
}

// nMarker prefixes a comment's number.
var nMarker = []byte(";n=")

// CommentNumber finds a comment's number (AppendComment's seq) in a
// payload.
func CommentNumber(payload []byte) (uint64, bool) {
	i := bytes.Index(payload, nMarker)
	if i < 0 {
		return 0, false
	}
	var n uint64
	digits := 0
	for _, c := range payload[i+len(nMarker):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
		digits++
	}
	return n, digits > 0
}

// commentFiller pads comments: words free of the letters the banned words
// are made of (see bannedWord), so that no comment is rejected, however
// the moderation normalizes spacing.
const commentFiller = " go team great run on the ice such a medal for the fans in the stands "

// AppendComment appends a comment of size bytes carrying its send time
// and a sequence number (which makes every text unique, so that none is
// taken for a duplicate).
func AppendComment(b []byte, ts int64, seq uint64, size int) []byte {
	start := len(b)
	b = append(b, tsMarker...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, ";n="...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ';')
	for len(b)-start < size {
		b = append(b, commentFiller[:min(len(commentFiller), size-(len(b)-start))]...)
	}
	return b
}

// MQTTHandshake sends CONNECT and, when filter is set, SUBSCRIBE, and
// reads the CONNACK and SUBACK from rw (a connection with a deadline).
func MQTTHandshake(rw io.ReadWriter, clientID, user, password, filter string) error {
	if _, err := rw.Write(MQTTConnectPacket(clientID, user, password)); err != nil {
		return err
	}
	var ack [5]byte
	if _, err := io.ReadFull(rw, ack[:4]); err != nil {
		return fmt.Errorf("reading CONNACK: %w", err)
	}
	if ack[0]>>4 != MQTTConnack || ack[3] != 0 {
		return fmt.Errorf("connection refused: CONNACK % x", ack[:4])
	}
	if filter == "" {
		return nil
	}
	if _, err := rw.Write(mqttSubscribePacket(1, filter)); err != nil {
		return err
	}
	if _, err := io.ReadFull(rw, ack[:]); err != nil {
		return fmt.Errorf("reading SUBACK: %w", err)
	}
	if ack[0]>>4 != MQTTSuback || ack[4] == 0x80 {
		return fmt.Errorf("subscription refused: SUBACK % x", ack[:])
	}
	return nil
}
