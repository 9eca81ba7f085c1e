package live

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// The QoS 1 and 2 side of bench live's load generator: packets are encoded
// with internal/mqtt's client-side encoders. A subscriber acknowledges as
// a real client does: PUBACK for QoS 1; PUBREC for QoS 2, then PUBCOMP
// for the broker's PUBREL. A poster answers the broker's PUBREC with
// PUBREL and ignores the rest.

// MQTT control packet types the QoS flows add to rig's (mqttwire.go).
const (
	mqttPuback  = 4
	mqttPubrec  = 5
	mqttPubrel  = 6
	mqttPubcomp = 7
)

// mqttLogin is how a load-generator connection logs in.
type mqttLogin struct {
	clientID string
	cred     liveCred
	filter   string // subscribed when set
	qos      byte   // of the subscription
	keep     bool   // a persistent session (cleanSession=false)
}

// handshakeLogin sends CONNECT and, when l.filter is set, SUBSCRIBE, and
// reads the CONNACK and SUBACK from rw (a connection with a deadline). It
// returns CONNACK's session-present flag.
func handshakeLogin(rw io.ReadWriter, l mqttLogin) (bool, error) {
	cp := &mqtt.Connect{ClientID: l.clientID, CleanSession: !l.keep}
	if l.cred.Password != "" {
		cp.Username, cp.Password, cp.HasPassword = l.cred.User, []byte(l.cred.Password), true
	}
	if _, err := rw.Write(mqtt.AppendConnect(nil, cp)); err != nil {
		return false, err
	}
	var ack [5]byte
	if _, err := io.ReadFull(rw, ack[:4]); err != nil {
		return false, fmt.Errorf("reading CONNACK: %w", err)
	}
	if ack[0]>>4 != rig.MQTTConnack || ack[3] != 0 {
		return false, fmt.Errorf("connection refused: CONNACK % x", ack[:4])
	}
	present := ack[2]&1 == 1
	if l.filter == "" {
		return present, nil
	}
	if _, err := rw.Write(mqtt.AppendSubscribe(nil, 1, mqtt.Filter{Topic: l.filter, QoS: l.qos})); err != nil {
		return present, err
	}
	if _, err := io.ReadFull(rw, ack[:]); err != nil {
		return present, fmt.Errorf("reading SUBACK: %w", err)
	}
	if ack[0]>>4 != rig.MQTTSuback || ack[4] != l.qos {
		return present, fmt.Errorf("subscription at QoS %d refused or downgraded: SUBACK % x", l.qos, ack[:])
	}
	return present, nil
}

// dialLogin connects and logs in.
func dialLogin(addr string, l mqttLogin, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := handshakeLogin(c, l); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// appendAcks appends what a subscriber answers to one packet it received
// (nothing for QoS 0 and for packets that need no answer).
func appendAcks(out []byte, head byte, body []byte) []byte {
	typ := head >> 4
	switch {
	case typ == rig.MQTTPublish && (head>>1)&3 > 0:
		id, ok := publishID(body)
		if !ok {
			return out
		}
		if (head>>1)&3 == 1 {
			return mqtt.AppendPuback(out, id)
		}
		return mqtt.AppendPubrec(out, id)
	case typ == mqttPubrel && len(body) >= 2:
		return mqtt.AppendPubcomp(out, uint16(body[0])<<8|uint16(body[1]))
	}
	return out
}

// publishID is the packet id of a QoS 1 or 2 PUBLISH body.
func publishID(body []byte) (uint16, bool) {
	if len(body) < 2 {
		return 0, false
	}
	off := 2 + (int(body[0])<<8 | int(body[1]))
	if off+2 > len(body) {
		return 0, false
	}
	return uint16(body[off])<<8 | uint16(body[off+1]), true
}

// answerPoster reads what the broker sends a poster until the connection
// ends, answering PUBREC with PUBREL (the poster's side of QoS 2).
func answerPoster(c net.Conn) error {
	br := bufio.NewReaderSize(c, 64<<10)
	var pending []byte
	for {
		head, err := br.ReadByte()
		if err != nil {
			return err
		}
		n, shift := 0, 0
		for i := 0; ; i++ {
			b, err := br.ReadByte()
			if err != nil {
				return err
			}
			if i == 4 {
				return fmt.Errorf("malformed remaining length")
			}
			n |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 {
				break
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return err
		}
		if head>>4 == mqttPubrec && n >= 2 {
			pending = mqtt.AppendPubrel(pending, uint16(body[0])<<8|uint16(body[1]))
		}
		if len(pending) > 0 && br.Buffered() == 0 {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(pending); err != nil {
				return err
			}
			pending = pending[:0]
		}
	}
}
