package mqtt

import "strings"

// parseConnect decodes a CONNECT body (MQTT 3.1.1, and 3.1's "MQIsdp").
func parseConnect(flags byte, body []byte) (*Connect, error) {
	if flags != 0 {
		return nil, malformed("CONNECT with reserved flags set")
	}
	d := &decoder{b: body}
	proto := d.string()
	c := &Connect{Level: d.byte(), protocol: proto}
	cf := d.byte()
	c.KeepAlive = d.uint16()
	if d.err != nil {
		return nil, d.err
	}
	if proto != "MQTT" && proto != "MQIsdp" {
		return nil, malformed("protocol name %q", proto)
	}
	if cf&0x01 != 0 {
		return nil, malformed("CONNECT reserved flag set")
	}
	c.CleanSession = cf&0x02 != 0
	c.ClientID = d.string()
	if cf&0x04 != 0 {
		c.Will = &Message{Topic: d.string(), QoS: (cf >> 3) & 0x03, Retain: cf&0x20 != 0}
		c.Will.Payload = d.bytes()
		if c.Will.QoS > 2 {
			return nil, malformed("will QoS 3") // MQTT-3.1.2-14
		}
		if d.err == nil && !validTopic(c.Will.Topic) {
			return nil, malformed("will topic %q is empty or has wildcards", c.Will.Topic) // MQTT-4.7.1-1, MQTT-4.7.3-1
		}
	} else if cf&0x38 != 0 {
		return nil, malformed("will QoS or retain set without a will")
	}
	if cf&0x80 != 0 {
		c.Username = d.string()
	}
	if cf&0x40 != 0 {
		if cf&0x80 == 0 {
			return nil, malformed("password without a user name")
		}
		c.Password, c.HasPassword = d.bytes(), true
	}
	return c, d.end()
}

// parsePublish decodes a PUBLISH: the fixed header's flags carry dup, QoS
// and retain.
func parsePublish(flags byte, body []byte) (*Publish, error) {
	p := &Publish{Dup: flags&0x08 != 0}
	p.QoS, p.Retain = (flags>>1)&0x03, flags&0x01 != 0
	if p.QoS == 3 {
		return nil, malformed("PUBLISH with QoS 3")
	}
	d := &decoder{b: body}
	p.Topic = d.string()
	if p.QoS > 0 {
		p.PacketID = d.uint16()
		if d.err == nil && p.PacketID == 0 {
			return nil, malformed("PUBLISH with packet id 0")
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if !validTopic(p.Topic) {
		return nil, malformed("PUBLISH topic %q is empty or has wildcards", p.Topic)
	}
	p.Payload = d.b
	return p, nil
}

func parseSubscribe(flags byte, body []byte) (*Subscribe, error) {
	if flags != 0x02 {
		return nil, malformed("SUBSCRIBE flags must be 0010")
	}
	d := &decoder{b: body}
	s := &Subscribe{PacketID: d.uint16()}
	if d.err == nil && s.PacketID == 0 {
		return nil, malformed("SUBSCRIBE with packet id 0") // MQTT-2.3.1-1
	}
	for d.err == nil && len(d.b) > 0 {
		f := Filter{Topic: d.string(), QoS: d.byte()}
		if d.err == nil && f.QoS > 2 {
			return nil, malformed("SUBSCRIBE with requested QoS %d", f.QoS)
		}
		if d.err == nil && !validFilter(f.Topic) {
			return nil, malformed("topic filter %q is invalid", f.Topic)
		}
		s.Filters = append(s.Filters, f)
	}
	if d.err == nil && len(s.Filters) == 0 {
		return nil, malformed("SUBSCRIBE without a filter")
	}
	return s, d.err
}

func parseUnsubscribe(flags byte, body []byte) (*Unsubscribe, error) {
	if flags != 0x02 {
		return nil, malformed("UNSUBSCRIBE flags must be 0010")
	}
	d := &decoder{b: body}
	u := &Unsubscribe{PacketID: d.uint16()}
	if d.err == nil && u.PacketID == 0 {
		return nil, malformed("UNSUBSCRIBE with packet id 0") // MQTT-2.3.1-1
	}
	for d.err == nil && len(d.b) > 0 {
		u.Topics = append(u.Topics, d.string())
	}
	if d.err == nil && len(u.Topics) == 0 {
		return nil, malformed("UNSUBSCRIBE without a filter")
	}
	return u, d.err
}

// parsePacketID decodes the body of PUBACK and the like.
func parsePacketID(body []byte) (uint16, error) {
	d := &decoder{b: body}
	id := d.uint16()
	return id, d.end()
}

// validTopic checks a topic name: at least one character, no wildcards
// (MQTT-3.3.2-2, MQTT-4.7.1-1, MQTT-4.7.3-1).
func validTopic(t string) bool {
	return t != "" && !strings.ContainsAny(t, "+#")
}

// validFilter checks the wildcards of a topic filter: '#' only as the
// whole last level, '+' only as a whole level.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, lv := range levels {
		if strings.Contains(lv, "#") && (lv != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(lv, "+") && lv != "+" {
			return false
		}
	}
	return true
}
