package mqtt

import "sync"

// route is the local subscribers of one filter. Deliveries read it under
// the read lock; subscribing and leaving take the write lock.
type route struct {
	mu    sync.RWMutex
	subs  []*session
	qos   []byte
	index map[*session]int
}

// add subscribes sess (or changes its QoS); it reports whether the route
// was empty before.
func (r *route) add(sess *session, qos byte) (first bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := r.index[sess]; ok {
		r.qos[i] = qos
		return false
	}
	r.index[sess] = len(r.subs)
	r.subs = append(r.subs, sess)
	r.qos = append(r.qos, qos)
	return len(r.subs) == 1
}

// remove unsubscribes sess; it reports whether the route is now empty.
func (r *route) remove(sess *session) (empty bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.index[sess]
	if !ok {
		return len(r.subs) == 0
	}
	last := len(r.subs) - 1
	r.subs[i], r.qos[i] = r.subs[last], r.qos[last]
	r.index[r.subs[i]] = i
	r.subs[last] = nil
	r.subs, r.qos = r.subs[:last], r.qos[:last]
	delete(r.index, sess)
	return len(r.subs) == 0
}

// subscribe adds sess to filter's route, asking the hooks to watch the
// filter when it is the first local subscriber.
func (s *Server) subscribe(sess *session, filter string, qos byte) error {
	s.mu.Lock()
	r := s.routes[filter]
	if r == nil {
		r = &route{index: map[*session]int{}}
		s.routes[filter] = r
	}
	first := r.add(sess, qos)
	s.mu.Unlock()
	if !first {
		return nil
	}
	if err := s.hooks.Watch(filter); err != nil {
		s.unsubscribe(sess, filter)
		return err
	}
	return nil
}

func (s *Server) unsubscribe(sess *session, filter string) {
	s.mu.Lock()
	r := s.routes[filter]
	if r == nil {
		s.mu.Unlock()
		return
	}
	empty := r.remove(sess)
	if empty {
		delete(s.routes, filter)
	}
	s.mu.Unlock()
	if empty {
		s.hooks.Unwatch(filter)
	}
}

// Subscribers reports how many local sessions subscribe to filter.
func (s *Server) Subscribers(filter string) int {
	s.mu.Lock()
	r := s.routes[filter]
	s.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.subs)
}

// Deliver hands messages published on topic to every local subscriber of
// filter, each at the QoS it was granted: the server itself is the
// publisher (DeliverQoS with QoS 2).
func (s *Server) Deliver(filter, topic string, payloads [][]byte) {
	s.DeliverQoS(filter, topic, 2, payloads)
}

// DeliverQoS hands messages published on topic with QoS qos to every
// local subscriber of filter, at the lower of qos and the QoS it was
// granted (MQTT-3.8.4-6). The QoS 0 packets of the whole batch are
// encoded once, into one buffer every QoS 0 subscriber shares, and each
// subscriber gets the batch in one write.
func (s *Server) DeliverQoS(filter, topic string, qos byte, payloads [][]byte) {
	s.mu.Lock()
	r := s.routes[filter]
	s.mu.Unlock()
	if r == nil || len(payloads) == 0 {
		return
	}
	size := 0
	for _, p := range payloads {
		size += len(topic) + len(p) + 8
	}
	joined := make([]byte, 0, size)
	for _, p := range payloads {
		joined = AppendPublish(joined, Message{Topic: topic, Payload: p}, false, 0)
	}
	shared := [][]byte{joined}
	// A journaled session reads QoS 1 and 2 messages of journaled topics
	// from the journal itself.
	journaled := s.journal != nil && s.journal.Journaled(topic)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i, sess := range r.subs {
		if q := min(r.qos[i], qos); q == 0 {
			sess.sendQoS0(shared, len(payloads))
		} else if !journaled || sess.jn == nil {
			sess.send(topic, payloads, q, false)
		}
	}
}
