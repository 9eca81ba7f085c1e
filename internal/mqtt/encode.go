package mqtt

// appendLength appends the variable-length remaining length.
func appendLength(b []byte, n int) []byte {
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

// appendPublishHeader appends a PUBLISH's fixed header, topic and packet
// id: everything before the payload, so that one payload can be shared by
// every subscriber's packet.
func appendPublishHeader(b []byte, topic string, payloadLen int, qos byte, retain, dup bool, id uint16) []byte {
	h := byte(typePublish<<4) | qos<<1
	if retain {
		h |= 0x01
	}
	if dup {
		h |= 0x08
	}
	n := 2 + len(topic) + payloadLen
	if qos > 0 {
		n += 2
	}
	b = appendLength(append(b, h), n)
	b = appendString(b, topic)
	if qos > 0 {
		b = append(b, byte(id>>8), byte(id))
	}
	return b
}

// AppendPublish appends a whole PUBLISH packet.
func AppendPublish(b []byte, m Message, dup bool, id uint16) []byte {
	b = appendPublishHeader(b, m.Topic, len(m.Payload), m.QoS, m.Retain, dup, id)
	return append(b, m.Payload...)
}

func connack(sessionPresent bool, code byte) []byte {
	sp := byte(0)
	if sessionPresent {
		sp = 1
	}
	return []byte{typeConnack << 4, 2, sp, code}
}

func ackPacket(typ byte, id uint16) []byte {
	return []byte{typ << 4, 2, byte(id >> 8), byte(id)}
}

// pubrel is a PUBREL: its fixed header's flags are 0010 (MQTT-3.6.1-1).
func pubrel(id uint16) []byte {
	return []byte{typePubrel<<4 | 0x02, 2, byte(id >> 8), byte(id)}
}

func suback(id uint16, codes []byte) []byte {
	b := appendLength([]byte{typeSuback << 4}, 2+len(codes))
	b = append(b, byte(id>>8), byte(id))
	return append(b, codes...)
}

var pingresp = []byte{typePingresp << 4, 0}

// AppendConnect appends a CONNECT packet (used by tests and the benchmark
// client).
func AppendConnect(b []byte, c *Connect) []byte {
	var body []byte
	body = appendString(body, "MQTT")
	flags := byte(0)
	if c.CleanSession {
		flags |= 0x02
	}
	if c.Will != nil {
		flags |= 0x04 | c.Will.QoS<<3
		if c.Will.Retain {
			flags |= 0x20
		}
	}
	if c.Username != "" || c.HasPassword {
		flags |= 0x80
	}
	if c.HasPassword {
		flags |= 0x40
	}
	body = append(body, 4, flags, byte(c.KeepAlive>>8), byte(c.KeepAlive))
	body = appendString(body, c.ClientID)
	if c.Will != nil {
		body = appendString(body, c.Will.Topic)
		body = appendString(body, string(c.Will.Payload))
	}
	if flags&0x80 != 0 {
		body = appendString(body, c.Username)
	}
	if c.HasPassword {
		body = appendString(body, string(c.Password))
	}
	b = appendLength(append(b, typeConnect<<4), len(body))
	return append(b, body...)
}

// AppendSubscribe appends a SUBSCRIBE packet.
func AppendSubscribe(b []byte, id uint16, filters ...Filter) []byte {
	var body []byte
	body = append(body, byte(id>>8), byte(id))
	for _, f := range filters {
		body = appendString(body, f.Topic)
		body = append(body, f.QoS)
	}
	b = appendLength(append(b, typeSubscribe<<4|0x02), len(body))
	return append(b, body...)
}

// AppendPuback, AppendPubrec, AppendPubrel and AppendPubcomp append the
// packets of the QoS 1 and 2 flows, as a client sends them (load
// generators, tests).
func AppendPuback(b []byte, id uint16) []byte  { return append(b, ackPacket(typePuback, id)...) }
func AppendPubrec(b []byte, id uint16) []byte  { return append(b, ackPacket(typePubrec, id)...) }
func AppendPubrel(b []byte, id uint16) []byte  { return append(b, pubrel(id)...) }
func AppendPubcomp(b []byte, id uint16) []byte { return append(b, ackPacket(typePubcomp, id)...) }
