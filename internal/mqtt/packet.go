// Package mqtt is stadion's MQTT 3.1.1 front-end: the packet codec and a
// server that holds viewers' connections (TCP or WebSocket), their
// sessions (with the in-flight state of QoS 1 and 2 in both directions),
// QoS 0, 1 and 2, keep-alive, last will and retained messages. It keeps
// no state of its own beyond connections and sessions: who may connect,
// where publishes go and which retained messages exist are decided by its
// Hooks (the live capability), and messages reach subscribers through
// Deliver or DeliverQoS, once per local subscription filter. A QoS 2
// message from a client is handed to the hooks once, however often the
// client sends it before releasing it. It imports nothing of stadion's.
// The MQTT 3.1.1 statements it implements, each with its test, are listed
// in docs/mqtt-conformance.md.
package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"unicode/utf8"
)

// Packet types of MQTT 3.1.1.
const (
	typeConnect     = 1
	typeConnack     = 2
	typePublish     = 3
	typePuback      = 4
	typePubrec      = 5
	typePubrel      = 6
	typePubcomp     = 7
	typeSubscribe   = 8
	typeSuback      = 9
	typeUnsubscribe = 10
	typeUnsuback    = 11
	typePingreq     = 12
	typePingresp    = 13
	typeDisconnect  = 14
)

// CONNACK return codes.
const (
	Accepted              byte = 0
	RefusedProtocol       byte = 1
	RefusedIdentifier     byte = 2
	RefusedUnavailable    byte = 3
	RefusedBadCredentials byte = 4
	RefusedNotAuthorized  byte = 5
)

// subackFailure is the SUBACK return code of a refused filter.
const subackFailure = 0x80

// ErrMalformed is wrapped by every decoding error: the connection that sent
// the packet is closed.
var ErrMalformed = errors.New("malformed packet")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// ErrTooLarge is returned for a packet over the size limit.
var ErrTooLarge = errors.New("packet too large")

// Message is an application message.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Connect is a decoded CONNECT packet.
type Connect struct {
	Level        byte // 4 with protocol name MQTT (3.1.1), 3 with MQIsdp (3.1)
	CleanSession bool
	KeepAlive    uint16 // seconds; 0 turns keep-alive off
	ClientID     string
	Will         *Message
	Username     string
	Password     []byte
	HasPassword  bool
	// Remote is the connection's peer (set by the server, not the packet).
	Remote   net.Addr
	protocol string // the protocol name: MQTT or MQIsdp
}

// Publish is a decoded PUBLISH packet.
type Publish struct {
	Message
	Dup      bool
	PacketID uint16
}

// Filter is one topic filter of a SUBSCRIBE.
type Filter struct {
	Topic string
	QoS   byte
}

// Subscribe is a decoded SUBSCRIBE packet.
type Subscribe struct {
	PacketID uint16
	Filters  []Filter
}

// Unsubscribe is a decoded UNSUBSCRIBE packet.
type Unsubscribe struct {
	PacketID uint16
	Topics   []string
}

// readPacket reads one packet's fixed header and body. A remaining length
// over limit is ErrTooLarge, read no further. Once the first byte has
// arrived, arm (when not nil) sets the deadline for the rest of the
// packet. The body is allocated as its bytes arrive, never up front: a
// client that announces a large packet and stops holds only what it sent.
// packetReader is what readPacket reads from: a connReader, or a
// bufio.Reader in tests.
type packetReader interface {
	io.Reader
	io.ByteReader
}

func readPacket(r packetReader, limit int, arm func()) (header byte, body []byte, err error) {
	header, err = r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	if arm != nil {
		arm()
	}
	n, err := readLength(r)
	if err != nil {
		return 0, nil, err
	}
	if n > limit {
		return 0, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, limit)
	}
	if n == 0 {
		return header, nil, nil
	}
	body, err = readBody(r, n)
	if err != nil {
		return 0, nil, err
	}
	return header, body, nil
}

// firstChunk is the most a body buffer holds before its bytes arrive.
const firstChunk = 4 << 10

// readBody reads n bytes, growing the buffer (at most doubling what has
// arrived) as they come.
func readBody(r io.Reader, n int) ([]byte, error) {
	body := make([]byte, 0, min(n, firstChunk))
	for len(body) < n {
		if len(body) == cap(body) {
			grown := make([]byte, len(body), min(n, 2*cap(body)))
			copy(grown, body)
			body = grown
		}
		m, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+m]
		if err != nil && len(body) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return body, nil
}

// readLength decodes the variable-length remaining length (at most four
// bytes).
func readLength(r io.ByteReader) (int, error) {
	n, shift := 0, 0
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, malformed("remaining length longer than four bytes")
}

// decoder reads the fields of a packet body.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = malformed(format, args...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("packet ends early")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint16() uint16 {
	if d.err != nil || len(d.b) < 2 {
		d.fail("packet ends early")
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) bytes() []byte {
	n := int(d.uint16())
	if d.err != nil || len(d.b) < n {
		d.fail("packet ends early")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// string reads a UTF-8 string: invalid UTF-8 and U+0000 are malformed
// (MQTT-1.5.3-1, MQTT-1.5.3-2).
func (d *decoder) string() string {
	b := d.bytes()
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.fail("string is not valid UTF-8")
		return ""
	}
	for _, c := range b {
		if c == 0 {
			d.fail("string contains U+0000")
			return ""
		}
	}
	return string(b)
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d unexpected bytes at the end", len(d.b))
	}
	return d.err
}
