package mqtt

import "time"

// attach gives c its session: a new one, the one a persistent client left
// (here, or saved by another process), or the one of a connection with
// the same client id, which is closed (takeover). It reports whether a
// session was present.
func (s *Server) attach(c *conn, cp *Connect) (present bool) {
	if cp.ClientID == "" {
		c.sess = newSession(s, "", false)
		c.sess.conn.Store(c)
		return false
	}
	s.mu.Lock()
	old := s.sessions[cp.ClientID]
	var sess *session
	switch {
	case old != nil && !cp.CleanSession && old.persistent:
		sess, present = old, true
		if old.expiry != nil {
			old.expiry.Stop()
		}
	default:
		sess = newSession(s, cp.ClientID, !cp.CleanSession)
	}
	s.sessions[cp.ClientID] = sess
	prevConn := (*conn)(nil)
	if old != nil {
		prevConn = old.conn.Swap(c)
		if sess != old {
			old.conn.Store(nil)
		}
	}
	sess.conn.Store(c)
	c.sess = sess
	s.mu.Unlock()

	if prevConn != nil && prevConn != c {
		prevConn.shutdown()
	}
	if old != nil && sess != old {
		s.dropSubs(old)
		if old.persistent && cp.CleanSession {
			s.hooks.SaveSession(cp.ClientID, nil)
		}
	}
	if !present && sess.persistent {
		present = s.restore(c, sess)
	}
	if cl, ok := s.hooks.(Claimer); ok {
		cl.Claimed(cp.ClientID)
	}
	return present
}

// Kick closes this process's connection of clientID and forgets its
// session without saving it: the client connected to another process,
// which now owns the session.
func (s *Server) Kick(clientID string) {
	s.mu.Lock()
	sess := s.sessions[clientID]
	delete(s.sessions, clientID)
	s.mu.Unlock()
	if sess == nil {
		return
	}
	sess.mu.Lock()
	if sess.expiry != nil {
		sess.expiry.Stop()
	}
	sess.mu.Unlock()
	if c := sess.conn.Swap(nil); c != nil {
		c.shutdown()
	}
	s.dropSubs(sess)
}

// restore re-subscribes a persistent session saved by another process
// (or before a restart).
func (s *Server) restore(c *conn, sess *session) bool {
	filters, ok := s.hooks.LoadSession(sess.id)
	if !ok {
		return false
	}
	for _, f := range filters {
		if c.client.CanSubscribe(f.Topic) {
			s.addSub(sess, f.Topic, min(f.QoS, 1))
		}
	}
	return true
}

// detach ends c's hold on its session: the will is published unless the
// client said goodbye; a clean session ends, a persistent one waits for
// its client.
func (s *Server) detach(c *conn, graceful bool) {
	if !graceful && c.will != nil && !s.isClosed() {
		if err := c.client.Publish(*c.will, nil); err != nil {
			s.log.Debug("mqtt will not published", "client", c.client.String(), "err", err)
		}
	}
	sess := c.sess
	if !sess.conn.CompareAndSwap(c, nil) {
		return // taken over by a newer connection
	}
	if !sess.persistent {
		s.mu.Lock()
		if s.sessions[sess.id] == sess {
			delete(s.sessions, sess.id)
		}
		s.mu.Unlock()
		s.dropSubs(sess)
		return
	}
	s.saveSession(sess)
	sess.mu.Lock()
	sess.expiry = time.AfterFunc(s.opts.SessionExpiry, func() { s.expire(sess) })
	sess.mu.Unlock()
}

// expire forgets a persistent session whose client did not come back.
func (s *Server) expire(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.id] != sess || sess.conn.Load() != nil {
		s.mu.Unlock()
		return
	}
	delete(s.sessions, sess.id)
	s.mu.Unlock()
	s.dropSubs(sess)
	s.hooks.SaveSession(sess.id, nil)
}

func (s *Server) addSub(sess *session, filter string, qos byte) error {
	if err := s.subscribe(sess, filter, qos); err != nil {
		return err
	}
	sess.mu.Lock()
	sess.subs[filter] = qos
	sess.mu.Unlock()
	return nil
}

func (s *Server) removeSub(sess *session, filter string) {
	sess.mu.Lock()
	_, ok := sess.subs[filter]
	delete(sess.subs, filter)
	sess.mu.Unlock()
	if ok {
		s.unsubscribe(sess, filter)
	}
}

func (s *Server) dropSubs(sess *session) {
	for _, f := range sess.filters() {
		s.removeSub(sess, f.Topic)
	}
}

func (s *Server) saveSession(sess *session) {
	if sess.persistent {
		s.hooks.SaveSession(sess.id, sess.filters())
	}
}
