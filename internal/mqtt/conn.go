package mqtt

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// writeTimeout bounds one write to a client: a client that reads nothing
// for this long is disconnected.
const writeTimeout = 30 * time.Second

// conn is one client connection: a reader goroutine, and a writer that
// runs only while packets are queued, coalescing them into one write.
type conn struct {
	srv    *Server
	nc     net.Conn
	sess   *session
	client Client
	will   *Message

	wmu      sync.Mutex
	out      net.Buffers
	outBytes int
	flushing bool
	dead     bool
	held     bool // until CONNACK and what the session owes go first

	revoked atomic.Bool // closed because its credentials were revoked
	acks    ackOrder    // PUBACK and PUBREC, in the order of their PUBLISH
}

// handle serves nc from CONNECT to its end. With detach set, the
// connection, once accepted, is served by a new goroutine and handle
// returns: the stack that authentication grew is freed, and an idle
// client's goroutine keeps only the small stack a read needs. false
// means the connection ended here.
func (s *Server) handle(nc net.Conn, detach bool) bool {
	c := &conn{srv: s, nc: nc, held: true}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	if len(s.conns) >= s.opts.MaxConnections {
		s.mu.Unlock()
		s.stats.Full.Add(1)
		nc.Close()
		return false
	}
	s.conns[c] = struct{}{} // so that Close reaches connections still in CONNECT
	s.mu.Unlock()
	cr := newConnReader(nc)
	cp, err := c.readConnect(cr)
	if err != nil {
		s.stats.Refused.Add(1)
		s.log.Debug("mqtt connect failed", "remote", nc.RemoteAddr().String(), "err", err)
		c.end()
		return false
	}
	present, code := s.attach(c, cp)
	if code != Accepted {
		s.stats.Refused.Add(1)
		c.refuse(code)
		c.end()
		return false
	}
	s.stats.Connects.Add(1)
	s.stats.Connections.Add(1)
	c.sess.resume(c, connack(present, Accepted))
	if detach {
		go func() {
			defer s.wg.Done()
			c.run(cr, cp.KeepAlive, true)
		}()
		return true
	}
	c.run(cr, cp.KeepAlive, false)
	return false
}

// errIdle ends a goroutine serving a connection that has nothing to read,
// so that a fresh one with a small stack waits for its next packet.
var errIdle = errors.New("connection idle")

// run serves an accepted connection until it ends, then detaches its
// session. With hop set, each time the client falls silent, the
// goroutine hands the connection to a new one and ends: handling a
// packet may have grown its stack (the runtime shrinks a stack only when
// a quarter of it would hold what is in use, which a parked read never
// satisfies), and the new goroutine waits on a small one.
func (c *conn) run(cr *connReader, keepAlive uint16, hop bool) {
	s := c.srv
	err := c.serve(cr, keepAlive, hop)
	if errors.Is(err, errIdle) {
		s.wg.Add(1) // this goroutine's count is not yet done
		go func() {
			defer s.wg.Done()
			c.run(cr, keepAlive, hop)
		}()
		return
	}
	defer c.end()
	graceful := errors.Is(err, errDisconnect)
	if !graceful && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("mqtt client dropped", "client", c.client.String(), "err", err)
		if errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || errors.Is(err, errForbidden) {
			s.stats.Refused.Add(1)
		}
	}
	s.stats.Connections.Add(-1)
	s.detach(c, graceful)
}

// end closes the connection and forgets it.
func (c *conn) end() {
	c.shutdown()
	c.srv.forgetConn(c)
}

// readConnect reads and checks the first packet, answering a refusal
// itself.
func (c *conn) readConnect(br *connReader) (*Connect, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.ConnectTimeout))
	if first, err := br.peekByte(); err != nil {
		return nil, err
	} else if first != typeConnect<<4 {
		return nil, malformed("first packet is %#x, not CONNECT", first)
	}
	h, body, err := readPacket(br, c.srv.opts.MaxPacket, nil)
	if err != nil {
		return nil, err
	}
	if h>>4 != typeConnect {
		return nil, malformed("first packet is type %d, not CONNECT", h>>4)
	}
	cp, err := parseConnect(h&0x0f, body)
	if err != nil {
		return nil, err
	}
	refuse := func(code byte, why string) (*Connect, error) {
		c.refuse(code)
		return nil, errors.New(why)
	}
	// 3.1.1 is MQTT at level 4, 3.1 MQIsdp at level 3; a level the name
	// does not go with is not one we speak (MQTT-3.1.2-2).
	if !(cp.protocol == "MQTT" && cp.Level == 4 || cp.protocol == "MQIsdp" && cp.Level == 3) {
		return refuse(RefusedProtocol, "unsupported protocol level")
	}
	if cp.ClientID == "" && !cp.CleanSession {
		return refuse(RefusedIdentifier, "a persistent session needs a client id")
	}
	if len(cp.ClientID) > 256 {
		return refuse(RefusedIdentifier, "client id longer than 256 bytes")
	}
	cp.Remote = c.nc.RemoteAddr()
	client, code := c.srv.hooks.Authenticate(cp)
	if code != Accepted {
		return refuse(code, "refused by authentication")
	}
	c.client, c.will = client, cp.Will
	return cp, nil
}

// refuse answers a CONNECT with a refusal.
func (c *conn) refuse(code byte) {
	c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.nc.Write(connack(false, code))
}

var (
	errDisconnect = errors.New("client disconnected")
	errForbidden  = errors.New("publish not allowed")
)

// serve reads packets until the client leaves or breaks the protocol.
// Two deadlines bound every read: silence between packets (1.5 times the
// keep-alive, at most IdleTimeout, which also bounds a keep-alive of 0),
// and, once a packet's first byte is in, PacketTimeout for the rest.
func (c *conn) serve(br *connReader, keepAlive uint16, hop bool) error {
	o := &c.srv.opts
	idle := o.IdleTimeout
	if keepAlive > 0 {
		idle = min(idle, time.Duration(keepAlive)*1500*time.Millisecond)
	}
	partial := false
	arm := func() {
		partial = true
		c.nc.SetReadDeadline(time.Now().Add(o.PacketTimeout))
	}
	for first := true; ; first = false {
		partial = false
		if hop && !first && !br.poll() {
			return errIdle
		}
		c.nc.SetReadDeadline(time.Now().Add(idle))
		// An idle client waits here, with no buffer.
		err := br.ready()
		var h byte
		var body []byte
		if err == nil {
			h, body, err = readPacket(br, o.MaxPacket, arm)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if partial {
					c.srv.stats.PacketTimeouts.Add(1)
				} else {
					c.srv.stats.IdleTimeouts.Add(1)
				}
			}
			return err
		}
		if err := c.dispatch(h, body); err != nil {
			return err
		}
	}
}

func (c *conn) dispatch(h byte, body []byte) error {
	flags := h & 0x0f
	switch h >> 4 {
	case typePublish:
		p, err := parsePublish(flags, body)
		if err != nil {
			return err
		}
		return c.publish(p)
	case typePuback, typePubrec, typePubrel, typePubcomp:
		return c.ackFlow(h, body)
	case typeSubscribe:
		sub, err := parseSubscribe(flags, body)
		if err != nil {
			return err
		}
		c.subscribe(sub)
	case typeUnsubscribe:
		u, err := parseUnsubscribe(flags, body)
		if err != nil {
			return err
		}
		c.unsubscribe(u)
	case typePingreq, typeDisconnect:
		// Neither has flags or a body (MQTT-2.2.2-2, MQTT-3.14.1-1): a
		// DISCONNECT that breaks this is a violation, so the will goes.
		if flags != 0 || len(body) != 0 {
			return malformed("packet type %d with flags %#x and %d body bytes", h>>4, flags, len(body))
		}
		if h>>4 == typeDisconnect {
			return errDisconnect
		}
		c.send([][]byte{pingresp}, false)
	default:
		return malformed("unexpected packet type %d", h>>4)
	}
	return nil
}

func (c *conn) publish(p *Publish) error {
	c.srv.stats.Received.Add(1)
	id := p.PacketID
	var done func(error)
	switch p.QoS {
	case 1:
		a := c.expectAck()
		done = func(err error) {
			if err == nil {
				c.ackReady(a, ackPacket(typePuback, id))
			} else {
				c.shutdown()
			}
		}
	case 2:
		first, stored, err := c.sess.receive(id)
		if err != nil {
			c.srv.stats.InflightFull.Add(1)
			return err
		}
		if !first {
			// A retransmission before PUBREL: answered, not handed on
			// again (MQTT-4.3.3-2). If the first copy is still being
			// stored, its PUBREC follows when it is.
			if stored {
				c.ackReady(c.expectAck(), ackPacket(typePubrec, id))
			}
			return nil
		}
		sess, a := c.sess, c.expectAck()
		done = func(err error) {
			sess.stored(id, err == nil)
			if err != nil {
				c.shutdown()
				return
			}
			// To the session's connection now: a persistent client
			// that reconnected meanwhile resends the PUBLISH there.
			if cc := sess.conn.Load(); cc == c {
				c.ackReady(a, ackPacket(typePubrec, id))
			} else if cc != nil {
				cc.send([][]byte{ackPacket(typePubrec, id)}, false)
			}
		}
	}
	if err := c.client.Publish(p.Message, done); err != nil {
		if p.QoS == 2 {
			c.sess.stored(id, false)
		}
		return errors.Join(errForbidden, err)
	}
	return nil
}

// ackFlow takes the packets that acknowledge QoS 1 and 2 messages:
// PUBACK, PUBREC and PUBCOMP for those sent to the client, PUBREL for
// those it sent.
func (c *conn) ackFlow(h byte, body []byte) error {
	typ := h >> 4
	want := byte(0)
	if typ == typePubrel {
		want = 0x02 // MQTT-3.6.1-1
	}
	if h&0x0f != want {
		return malformed("packet type %d with flags %#x", typ, h&0x0f)
	}
	id, err := parsePacketID(body)
	if err != nil {
		return err
	}
	switch typ {
	case typePuback:
		c.sess.ack(id)
	case typePubrec:
		if c.sess.rec(id) {
			c.send([][]byte{pubrel(id)}, false)
		}
	case typePubrel:
		// Answered whether or not the id is known: the client may have
		// missed our PUBCOMP before a reconnect (MQTT-4.3.3-2).
		c.sess.release(id)
		c.send([][]byte{ackPacket(typePubcomp, id)}, false)
	case typePubcomp:
		c.sess.comp(id)
	}
	return nil
}

func (c *conn) subscribe(sub *Subscribe) {
	codes := make([]byte, len(sub.Filters))
	var granted []Filter
	for i, f := range sub.Filters {
		qos := min(f.QoS, 2)
		if !c.client.CanSubscribe(f.Topic) {
			codes[i] = subackFailure
			continue
		}
		if err := c.srv.addSub(c.sess, f.Topic, qos); err != nil {
			switch {
			case errors.Is(err, errSubscriptionCap):
				c.srv.stats.SubscribeRefused.Add(1)
			case errors.Is(err, errSessionSubscriptionCap):
				c.srv.stats.SessionSubRefused.Add(1)
			}
			codes[i] = subackFailure
			continue
		}
		codes[i] = qos
		granted = append(granted, Filter{Topic: f.Topic, QoS: qos})
	}
	if jn := c.sess.jn; jn != nil {
		now := time.Now().UnixNano()
		c.sess.mu.Lock()
		for _, f := range granted {
			jn.since[f.Topic] = now // owed what is published from now on
		}
		c.sess.mu.Unlock()
	}
	// Save before acknowledging: what a SUBACK granted is in the session.
	c.srv.saveSession(c.sess)
	if c.sess.jn != nil && len(granted) > 0 {
		c.sess.jn.restart()
	}
	c.send([][]byte{suback(sub.PacketID, codes)}, false)
	for _, f := range granted {
		c.sendRetained(f)
	}
}

// sendRetained delivers the retained messages matching a new
// subscription.
func (c *conn) sendRetained(f Filter) {
	for _, m := range c.srv.hooks.Retained(f.Topic) {
		if min(m.QoS, f.QoS) == 0 {
			m.QoS, m.Retain = 0, true
			c.send([][]byte{AppendPublish(nil, m, false, 0)}, true)
			continue
		}
		c.sess.send(m.Topic, [][]byte{m.Payload}, min(m.QoS, f.QoS), true)
	}
}

func (c *conn) unsubscribe(u *Unsubscribe) {
	for _, f := range u.Topics {
		c.srv.removeSub(c.sess, f)
	}
	if jn := c.sess.jn; jn != nil {
		c.sess.mu.Lock()
		for _, f := range u.Topics {
			delete(jn.since, f)
		}
		c.sess.mu.Unlock()
	}
	c.srv.saveSession(c.sess)
	if c.sess.jn != nil {
		c.sess.jn.restart()
	}
	c.send([][]byte{ackPacket(typeUnsuback, u.PacketID)}, false)
}

// send queues protocol packets (acks, pings) and starts the writer if it
// is idle.
func (c *conn) send(pkts [][]byte, droppable bool) {
	if droppable {
		c.deliver(pkts, len(pkts))
		return
	}
	c.queue(pkts, false)
}

// deliver queues n messages (in pkts) for a subscriber. They are dropped
// while more than MaxQueued bytes wait: a slow viewer loses comments
// instead of growing the server's memory.
func (c *conn) deliver(pkts [][]byte, n int) {
	if c.queue(pkts, true) {
		c.srv.stats.Delivered.Add(int64(n))
	} else {
		c.srv.stats.Dropped.Add(int64(n))
	}
}

func (c *conn) queue(pkts [][]byte, droppable bool) bool {
	if len(pkts) == 0 {
		return true
	}
	c.wmu.Lock()
	if c.dead {
		c.wmu.Unlock()
		return false
	}
	if limit := c.srv.opts.MaxQueued; c.outBytes > limit {
		if !droppable && c.outBytes > 2*limit {
			// Acks and QoS 1 and 2 messages are never dropped: a client that
			// lets this much of them wait is disconnected instead.
			c.wmu.Unlock()
			c.srv.stats.SlowClosed.Add(1)
			c.shutdown()
			return false
		}
		if droppable {
			c.wmu.Unlock()
			return false
		}
	}
	for _, p := range pkts {
		c.out = append(c.out, p)
		c.outBytes += len(p)
	}
	c.kick()
	return true
}

// start puts pkts (CONNACK and what the session owes) before whatever
// was queued since the connection attached, and lets the writer go.
func (c *conn) start(pkts [][]byte) {
	c.wmu.Lock()
	if c.dead {
		c.wmu.Unlock()
		return
	}
	for _, p := range pkts {
		c.outBytes += len(p)
	}
	c.out = append(pkts, c.out...)
	c.held = false
	c.kick()
}

// kick starts the writer unless it runs or the connection is held, and
// unlocks c.wmu.
func (c *conn) kick() {
	start := !c.flushing && !c.held
	if start {
		c.flushing = true
	}
	c.wmu.Unlock()
	if start {
		go c.flush()
	}
}

// flush writes queued packets, many per system call, until none wait.
func (c *conn) flush() {
	for {
		c.wmu.Lock()
		bufs := c.out
		c.out, c.outBytes = nil, 0
		if len(bufs) == 0 || c.dead {
			c.flushing = false
			c.wmu.Unlock()
			return
		}
		c.wmu.Unlock()
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := bufs.WriteTo(c.nc); err != nil {
			c.shutdown()
		}
	}
}

// revoke closes a connection whose credentials were revoked: its will is
// not sent and a persistent session ends with it.
func (c *conn) revoke() {
	if c.revoked.CompareAndSwap(false, true) {
		c.srv.stats.Revoked.Add(1)
	}
	c.shutdown()
}

// shutdown closes the connection; the reader then ends and cleans up.
func (c *conn) shutdown() {
	c.wmu.Lock()
	c.dead = true
	c.out = nil
	c.wmu.Unlock()
	c.nc.Close()
}
