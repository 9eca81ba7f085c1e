package mqtt

import (
	"errors"
	"time"
)

// attach lists c under its owner and gives it its session: a new one,
// the one a persistent client left (here, or saved by another process),
// or the one of a connection with the same owner and client id, which is
// closed (takeover). It reports whether a session was present, or the
// CONNACK refusal for a client revoked meanwhile or a persistent session
// over its owner's cap.
func (s *Server) attach(c *conn, cp *Connect) (present bool, code byte) {
	name := c.client.Owner()
	s.mu.Lock()
	s.ownerLocked(name).conns[c] = struct{}{}
	s.mu.Unlock()
	if c.client.Revoked() {
		s.stats.Revoked.Add(1)
		return false, RefusedNotAuthorized
	}
	if cp.ClientID == "" {
		c.sess = newSession(s, "", name, false)
		c.sess.conn.Store(c)
		return false, Accepted
	}
	key := sessionKey(name, cp.ClientID)
	if cp.CleanSession && s.journal != nil {
		s.journal.Discard(key) // a session saved by any process ends here
	}
	s.mu.Lock()
	old := s.sessions[key]
	var sess *session
	if old != nil && !cp.CleanSession && old.persistent {
		sess, present = old, true
	} else {
		sess = newSession(s, key, name, !cp.CleanSession)
		if sess.persistent { // old, if any, is a clean session
			if err := s.keepSessionLocked(sess); err != nil {
				s.mu.Unlock()
				s.stats.SessionsRefused.Add(1)
				return false, RefusedNotAuthorized
			}
		}
		if old != nil && old.persistent {
			s.releaseSessionLocked(old)
		}
	}
	s.sessions[key] = sess
	prevConn := (*conn)(nil)
	if old != nil {
		prevConn = old.conn.Swap(c)
		if sess != old {
			old.conn.Store(nil)
		}
	}
	sess.conn.Store(c)
	c.sess = sess
	// The clock stops once the connection is in place: a detach that
	// races this one arms it only for a session left without one.
	sess.mu.Lock()
	if sess.expiry != nil {
		sess.expiry.Stop()
		sess.expiry = nil
	}
	sess.mu.Unlock()
	s.mu.Unlock()

	if prevConn != nil && prevConn != c {
		prevConn.shutdown()
	}
	if old != nil && sess != old {
		if old.jn != nil {
			old.jn.stop()
		}
		s.dropSubs(old)
		if old.persistent && cp.CleanSession {
			s.hooks.SaveSession(key, nil)
		}
	}
	if !present && sess.jn != nil {
		var err error
		if present, err = sess.jn.restore(c); err != nil {
			s.log.Warn("mqtt persistent session not restored; refusing the client for now", "client", c.client.String(), "err", err)
			s.abandon(sess)
			return false, RefusedUnavailable
		}
	} else if !present && sess.persistent {
		present = s.restore(c, sess)
	}
	if cl, ok := s.hooks.(Claimer); ok {
		cl.Claimed(key)
	}
	return present, Accepted
}

// Kick closes this process's connection of a session key (as given to
// Claimer.Claimed) and forgets its session without saving it: the client
// connected to another process, which now owns the session.
func (s *Server) Kick(key string) {
	s.mu.Lock()
	sess := s.sessions[key]
	delete(s.sessions, key)
	if sess != nil {
		s.releaseSessionLocked(sess)
	}
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
	if sess.jn != nil {
		go sess.jn.stop() // not on the caller's goroutine (a subscription's), which must not block
	}
	s.dropSubs(sess)
}

// Sessions reports how many sessions this process holds, online or
// kept for a client that left.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// moved gives up a journaled session another process saved since this
// one loaded it (a takeover whose claim did not arrive here): its
// connection is closed and nothing more is saved.
func (s *Server) moved(sess *session) {
	s.mu.Lock()
	mine := s.sessions[sess.key] == sess
	s.mu.Unlock()
	if mine {
		s.stats.SessionsMoved.Add(1)
		s.log.Info("mqtt persistent session taken over by another process", "session", sess.key)
		s.Kick(sess.key)
	}
}

// abandon forgets a session that could not be restored, without saving
// it.
func (s *Server) abandon(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.key] == sess {
		delete(s.sessions, sess.key)
	}
	s.releaseSessionLocked(sess)
	s.mu.Unlock()
	sess.conn.Store(nil)
	s.dropSubs(sess)
}

// restore re-subscribes a persistent session saved by another process
// (or before a restart).
func (s *Server) restore(c *conn, sess *session) bool {
	filters, ok := s.hooks.LoadSession(sess.key)
	if !ok {
		return false
	}
	for _, f := range filters {
		if c.client.CanSubscribe(f.Topic) {
			s.addSub(sess, f.Topic, min(f.QoS, 2)) // over the caps: left out
		}
	}
	return true
}

// detach ends c's hold on its session: the will is published unless the
// client said goodbye; a clean session ends, a persistent one waits for
// its client.
func (s *Server) detach(c *conn, graceful bool) {
	revoked := c.revoked.Load()
	if !graceful && !revoked && c.will != nil && !s.isClosed() {
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
		if s.sessions[sess.key] == sess {
			delete(s.sessions, sess.key)
		}
		s.mu.Unlock()
		s.dropSubs(sess)
		return
	}
	if revoked {
		s.endSession(sess) // its owner's credentials are gone: so is the session
		return
	}
	if sess.jn != nil {
		sess.jn.stop()
		if err := sess.jn.save(false); errors.Is(err, ErrSessionMoved) {
			return
		}
		if sess.conn.Load() != nil {
			sess.jn.start() // the client came back while this one stopped its feed
		}
	} else {
		s.saveSession(sess)
	}
	sess.mu.Lock()
	if sess.conn.Load() == nil { // the client may be back already (saving is a round trip)
		if sess.expiry != nil {
			sess.expiry.Stop()
		}
		// A persistent session whose client does not come back in time
		// is forgotten, as a revoked one is.
		sess.expiry = time.AfterFunc(s.opts.SessionExpiry, func() { s.endSession(sess) })
	}
	sess.mu.Unlock()
}

// Subscription caps, refused in the SUBACK.
var (
	errSubscriptionCap        = errors.New("too many subscriptions on this connection")
	errSessionSubscriptionCap = errors.New("too many subscriptions in this persistent session")
)

// addSub subscribes sess to filter within its cap: the place is taken
// under the session's lock before the route is joined.
func (s *Server) addSub(sess *session, filter string, qos byte) error {
	sess.mu.Lock()
	prev, had := sess.subs[filter]
	if n := len(sess.subs); !had && n >= sess.subLimit() {
		sess.mu.Unlock()
		if sess.persistent && n >= s.opts.MaxSessionSubscriptions {
			return errSessionSubscriptionCap
		}
		return errSubscriptionCap
	}
	sess.subs[filter] = qos
	sess.mu.Unlock()
	if err := s.subscribe(sess, filter, qos); err != nil {
		sess.mu.Lock()
		if had {
			sess.subs[filter] = prev
		} else {
			delete(sess.subs, filter)
		}
		sess.mu.Unlock()
		return err
	}
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
	switch {
	case sess.jn != nil:
		if err := sess.jn.save(sess.conn.Load() != nil); err != nil {
			s.log.Warn("mqtt session not saved", "session", sess.key, "err", err)
		}
	case sess.persistent:
		s.hooks.SaveSession(sess.key, sess.filters())
	}
}
