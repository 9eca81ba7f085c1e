package mqtt

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// session is a client's subscriptions and unacknowledged QoS 1 messages.
// A clean session ends with its connection; a persistent one is kept
// offline (queueing QoS 1 messages) until the client returns or it
// expires.
type session struct {
	srv        *Server
	key        string // sessionKey(owner, client id)
	owner      string
	persistent bool
	conn       atomic.Pointer[conn]

	mu       sync.Mutex
	subs     map[string]byte // filter → granted QoS
	nextID   uint16
	inflight map[uint16]Message // sent, awaiting PUBACK
	order    []uint16           // inflight ids in send order
	offline  []Message          // QoS 1 messages for an offline session
	expiry   *time.Timer
}

func newSession(srv *Server, key, owner string, persistent bool) *session {
	return &session{srv: srv, key: key, owner: owner, persistent: persistent, subs: make(map[string]byte, 1)}
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

// sendQoS1 numbers each message, remembers it until acknowledged and
// writes it; offline, it queues (up to MaxInflight messages).
func (s *session) sendQoS1(topic string, payloads [][]byte, retain bool) {
	s.mu.Lock()
	c := s.conn.Load()
	if c == nil {
		for _, p := range payloads {
			if len(s.offline) >= s.srv.opts.MaxInflight {
				s.srv.stats.Dropped.Add(1)
				continue
			}
			s.offline = append(s.offline, Message{Topic: topic, Payload: p, QoS: 1, Retain: retain})
		}
		s.mu.Unlock()
		return
	}
	pkts := make([][]byte, 0, len(payloads))
	defer func() {
		// QoS 1 messages are never dropped for a slow client: they wait
		// in flight until acknowledged.
		if c.queue(pkts, false) {
			s.srv.stats.Delivered.Add(int64(len(pkts)))
		}
	}()
	for _, p := range payloads {
		if len(s.inflight) >= s.srv.opts.MaxInflight {
			s.srv.stats.Dropped.Add(1)
			continue
		}
		m := Message{Topic: topic, Payload: p, QoS: 1, Retain: retain}
		id := s.track(m)
		pkts = append(pkts, AppendPublish(nil, m, false, id))
	}
	s.mu.Unlock()
}

// track records an outgoing QoS 1 message under a fresh packet id.
func (s *session) track(m Message) uint16 {
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
		s.inflight = map[uint16]Message{}
	}
	s.inflight[s.nextID] = m
	s.order = append(s.order, s.nextID)
	return s.nextID
}

// ack forgets an acknowledged message.
func (s *session) ack(id uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inflight[id]; !ok {
		return
	}
	delete(s.inflight, id)
	if len(s.order) > 0 && s.order[0] == id {
		s.order = s.order[1:]
	} else if i := slices.Index(s.order, id); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// resume sends what a returning client missed: unacknowledged messages
// again (with DUP set), then those queued while it was away.
func (s *session) resume(c *conn) {
	s.mu.Lock()
	var pkts [][]byte
	for _, id := range s.order {
		pkts = append(pkts, AppendPublish(nil, s.inflight[id], true, id))
	}
	for _, m := range s.offline {
		if len(s.inflight) >= s.srv.opts.MaxInflight {
			s.srv.stats.Dropped.Add(1)
			continue
		}
		pkts = append(pkts, AppendPublish(nil, m, false, s.track(m)))
	}
	s.offline = nil
	s.mu.Unlock()
	if len(pkts) > 0 {
		c.send(pkts, false)
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
