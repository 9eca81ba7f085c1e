// Package interop is an MQTT 3.1.1 interoperability suite: the scenarios
// of the public Paho interoperability client (client_test.py in
// eclipse/paho.mqtt.testing), written in Go with the same assertions, and
// the small client they drive. It runs against any broker at an address:
// tests run it against internal/mqtt, the front-end of `stadion up` and
// Mosquitto, so that their results compare in one run. The client has a
// codec of its own (not internal/mqtt's), so that a bug shared by the
// server's encoder and decoder cannot hide itself. Only tests import it.
package interop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Packet types of MQTT 3.1.1.
const (
	Connect     = 1
	Connack     = 2
	Publish     = 3
	Puback      = 4
	Pubrec      = 5
	Pubrel      = 6
	Pubcomp     = 7
	Subscribe   = 8
	Suback      = 9
	Unsubscribe = 10
	Unsuback    = 11
	Pingreq     = 12
	Pingresp    = 13
	Disconnect  = 14
)

// Packet is one decoded packet: the fixed header's byte and the body.
type Packet struct {
	Header byte
	Body   []byte
}

// Type is the packet's type.
func (p Packet) Type() byte { return p.Header >> 4 }

// ID is the packet identifier that starts the body of acknowledgements,
// SUBACK and UNSUBACK.
func (p Packet) ID() uint16 {
	if len(p.Body) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(p.Body)
}

// ReadPacket reads one packet of at most limit bytes.
func ReadPacket(r *bufio.Reader, limit int) (Packet, error) {
	h, err := r.ReadByte()
	if err != nil {
		return Packet{}, err
	}
	n, shift := 0, 0
	for i := 0; ; i++ {
		if i == 4 {
			return Packet{}, errors.New("remaining length longer than four bytes")
		}
		b, err := r.ReadByte()
		if err != nil {
			return Packet{}, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		shift += 7
	}
	if n > limit {
		return Packet{}, fmt.Errorf("packet of %d bytes, over %d", n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Packet{}, err
	}
	return Packet{Header: h, Body: body}, nil
}

// Encode builds a packet from its fixed header's byte and its body.
func Encode(header byte, body []byte) []byte {
	b := []byte{header}
	n := len(body)
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

// AppendString appends a length-prefixed string.
func AppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// ConnectOptions are the fields of a CONNECT.
type ConnectOptions struct {
	ProtocolName string // "MQTT" when empty
	CleanSession bool
	KeepAlive    uint16
	Will         *Message // QoS and Retain are the will's
	Username     string
	Password     string
}

// EncodeConnect builds a CONNECT (protocol level 4) for clientID.
func EncodeConnect(clientID string, o ConnectOptions) []byte {
	name := o.ProtocolName
	if name == "" {
		name = "MQTT"
	}
	body := AppendString(nil, name)
	flags := byte(0)
	if o.CleanSession {
		flags |= 0x02
	}
	if w := o.Will; w != nil {
		flags |= 0x04 | w.QoS<<3
		if w.Retain {
			flags |= 0x20
		}
	}
	if o.Username != "" {
		flags |= 0x80
	}
	if o.Password != "" {
		flags |= 0x40
	}
	body = append(body, 4, flags)
	body = binary.BigEndian.AppendUint16(body, o.KeepAlive)
	body = AppendString(body, clientID)
	if w := o.Will; w != nil {
		body = AppendString(body, w.Topic)
		body = AppendString(body, string(w.Payload))
	}
	if o.Username != "" {
		body = AppendString(body, o.Username)
	}
	if o.Password != "" {
		body = AppendString(body, o.Password)
	}
	return Encode(Connect<<4, body)
}

// EncodePublish builds a PUBLISH; id is left out at QoS 0.
func EncodePublish(m Message, dup bool, id uint16) []byte {
	h := byte(Publish<<4) | m.QoS<<1
	if m.Retain {
		h |= 0x01
	}
	if dup {
		h |= 0x08
	}
	body := AppendString(nil, m.Topic)
	if m.QoS > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	return Encode(h, append(body, m.Payload...))
}

// EncodeAck builds PUBACK, PUBREC, PUBREL (flags 0010) or PUBCOMP.
func EncodeAck(typ byte, id uint16) []byte {
	h := typ << 4
	if typ == Pubrel {
		h |= 0x02
	}
	return Encode(h, binary.BigEndian.AppendUint16(nil, id))
}

// DecodePublish reads a PUBLISH packet.
func DecodePublish(p Packet) (m Message, err error) {
	m.QoS, m.Retain, m.Dup = (p.Header>>1)&0x03, p.Header&0x01 != 0, p.Header&0x08 != 0
	b := p.Body
	if len(b) < 2 {
		return m, errors.New("PUBLISH too short")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return m, errors.New("PUBLISH topic overruns the packet")
	}
	m.Topic, b = string(b[2:2+n]), b[2+n:]
	if m.QoS > 0 {
		if len(b) < 2 {
			return m, errors.New("PUBLISH without a packet id")
		}
		m.ID, b = binary.BigEndian.Uint16(b), b[2:]
	}
	m.Payload = b
	return m, nil
}
