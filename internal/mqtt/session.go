package mqtt

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// session is a client's subscriptions and the in-flight state of both
// directions: outbound QoS 1 and 2 messages not yet acknowledged, and
// the packet ids of inbound QoS 2 messages not yet released. A clean
// session ends with its connection; a persistent one is kept offline
// (queueing QoS 1 and 2 messages) until the client returns or it expires.
type session struct {
	srv        *Server
	key        string // sessionKey(owner, client id)
	owner      string
	persistent bool
	conn       atomic.Pointer[conn]

	mu       sync.Mutex
	subs     map[string]byte // filter → granted QoS
	nextID   uint16
	inflight map[uint16]*outbound // sent, awaiting PUBACK, PUBREC or PUBCOMP
	order    []uint16             // inflight ids in send order
	offline  []Message            // QoS 1 and 2 messages for an offline session
	incoming map[uint16]bool      // inbound QoS 2 ids awaiting PUBREL: true once stored (PUBREC sent)
	expiry   *time.Timer

	// A journaled session (persistent, Hooks implement Journal) keeps
	// what it owes in the engine: see journaled.go.
	jn *journaled
}

// outbound is a QoS 1 or 2 message sent to the client and not yet
// acknowledged.
type outbound struct {
	m        Message
	released bool      // QoS 2: PUBREC received, PUBREL sent, awaiting PUBCOMP
	on       *conn     // the connection it was last sent on
	pos      *Position // a journaled message's place in the journal
}

func newSession(srv *Server, key, owner string, persistent bool) *session {
	s := &session{srv: srv, key: key, owner: owner, persistent: persistent, subs: make(map[string]byte, 1)}
	if persistent && srv.journal != nil {
		s.jn = newJournaled(s, srv.journal)
	}
	return s
}

// subLimit is the most filters the session may hold.
func (s *session) subLimit() int {
	if s.persistent {
		return min(s.srv.opts.MaxSubscriptions, s.srv.opts.MaxSessionSubscriptions)
	}
	return s.srv.opts.MaxSubscriptions
}

// sendQoS0 queues encoded QoS 0 packets (n messages) to the connection,
// if the client is online.
func (s *session) sendQoS0(pkts [][]byte, n int) {
	if c := s.conn.Load(); c != nil {
		c.deliver(pkts, n)
	}
}

// send numbers each message (QoS 1 or 2), remembers it until
// acknowledged and writes it; offline, it queues. In flight and queued
// offline, a session holds at most MaxInflight messages each: more are
// dropped and counted.
func (s *session) send(topic string, payloads [][]byte, qos byte, retain bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn.Load()
	if c == nil {
		for _, p := range payloads {
			if len(s.offline) >= s.srv.opts.MaxInflight {
				s.srv.stats.Dropped.Add(1)
				continue
			}
			s.offline = append(s.offline, Message{Topic: topic, Payload: p, QoS: qos, Retain: retain})
		}
		return
	}
	pkts := make([][]byte, 0, len(payloads))
	for _, p := range payloads {
		if len(s.inflight) >= s.srv.opts.MaxInflight {
			s.srv.stats.Dropped.Add(1)
			continue
		}
		m := Message{Topic: topic, Payload: p, QoS: qos, Retain: retain}
		pkts = append(pkts, AppendPublish(nil, m, false, s.track(m, c)))
	}
	// QoS 1 and 2 messages are never dropped for a slow client: they
	// wait in flight until acknowledged. They are queued under s.mu, so
	// that packet ids go out in the order they were given.
	if c.queue(pkts, false) {
		s.srv.stats.Delivered.Add(int64(len(pkts)))
	}
}

// track records an outgoing message under a fresh packet id; s.mu is
// held.
func (s *session) track(m Message, c *conn) uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			continue
		}
		if _, busy := s.inflight[s.nextID]; !busy {
			break
		}
	}
	if s.inflight == nil {
		s.inflight = map[uint16]*outbound{}
	}
	s.inflight[s.nextID] = &outbound{m: m, on: c}
	s.order = append(s.order, s.nextID)
	return s.nextID
}

// forgetLocked drops an acknowledged message; s.mu is held.
func (s *session) forgetLocked(id uint16) {
	if o := s.inflight[id]; o != nil && o.pos != nil {
		s.jn.freedLocked()
	}
	delete(s.inflight, id)
	if len(s.order) > 0 && s.order[0] == id {
		s.order = s.order[1:]
	} else if i := slices.Index(s.order, id); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// ack takes a PUBACK: a QoS 1 message is delivered.
func (s *session) ack(id uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.inflight[id]; ok && o.m.QoS == 1 {
		s.forgetLocked(id)
	}
}

// rec takes a PUBREC: a QoS 2 message was received; from now on it is
// PUBREL that is resent (MQTT-4.3.3-1). It reports whether to answer
// with PUBREL.
func (s *session) rec(id uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.inflight[id]
	if !ok || o.m.QoS != 2 {
		return false
	}
	if o.pos != nil {
		// Saved as released before PUBREL goes: once the client has
		// PUBREL, it forgets the id, and a process resuming the session
		// must not send the message again.
		if !o.released {
			o.released = true
			s.jn.releaseLocked(id)
			return false
		}
		return !s.jn.releasingLocked(id)
	}
	o.released = true
	return true
}

// comp takes a PUBCOMP: a released QoS 2 message is done.
func (s *session) comp(id uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.inflight[id]; ok && o.released {
		s.forgetLocked(id)
	}
}

// errInflightFull closes a connection that sends more QoS 2 messages
// than MaxInflight before releasing them.
var errInflightFull = errors.New("too many QoS 2 messages awaiting PUBREL")

// receive records an inbound QoS 2 packet id. first is false for a
// retransmission of an id not yet released (its message must not be
// handed on again, MQTT-4.3.3-2); stored then says whether PUBREC was
// already due.
func (s *session) receive(id uint16) (first, stored bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.incoming[id]; ok {
		return false, st, nil
	}
	if len(s.incoming) >= s.srv.opts.MaxInflight {
		return false, false, errInflightFull
	}
	if s.incoming == nil {
		s.incoming = map[uint16]bool{}
	}
	s.incoming[id] = false
	return true, false, nil
}

// stored marks an inbound QoS 2 message as stored (PUBREC is due), or
// forgets its id when it could not be (a retry hands it on again).
func (s *session) stored(id uint16, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, held := s.incoming[id]; !held {
		return
	}
	if ok {
		s.incoming[id] = true
	} else {
		delete(s.incoming, id)
	}
}

// release takes a PUBREL: the packet id is free again (MQTT-4.3.3-2).
func (s *session) release(id uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.incoming, id)
}

// resume starts a returning client's connection, once attached: CONNACK
// first, then what it is owed in order — every message in flight that
// was not sent on this connection again (PUBLISH with DUP set, or PUBREL
// for a QoS 2 message already received, MQTT-4.4.0-1), then those queued
// while it was away — and only then what was delivered to c meanwhile.
func (s *session) resume(c *conn, connack []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pkts := [][]byte{connack}
	for _, id := range s.order {
		o := s.inflight[id]
		if o.on == c {
			continue // delivered to c after it attached: it is in c's queue
		}
		o.on = c
		if o.released {
			if o.pos == nil || !s.jn.releasingLocked(id) { // else its PUBREL follows the save
				pkts = append(pkts, pubrel(id))
			}
			continue
		}
		pkts = append(pkts, AppendPublish(nil, o.m, true, id))
	}
	for _, m := range s.offline {
		if len(s.inflight) >= s.srv.opts.MaxInflight {
			s.srv.stats.Dropped.Add(1)
			continue
		}
		pkts = append(pkts, AppendPublish(nil, m, false, s.track(m, c)))
	}
	s.offline = nil
	c.start(pkts)
	if s.jn != nil {
		s.jn.start()
	}
}

func (s *session) filters() []Filter {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := make([]Filter, 0, len(s.subs))
	for f, q := range s.subs {
		fs = append(fs, Filter{Topic: f, QoS: q})
	}
	slices.SortFunc(fs, func(a, b Filter) int {
		if a.Topic < b.Topic {
			return -1
		}
		if a.Topic > b.Topic {
			return 1
		}
		return 0
	})
	return fs
}
