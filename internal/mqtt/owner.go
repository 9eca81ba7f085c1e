package mqtt

import "errors"

// owner is what the server holds for one owner (Client.Owner): its open
// connections, so that Revoke reaches them without a scan, and its
// persistent sessions, online or kept, so that they are capped.
type owner struct {
	conns    map[*conn]struct{}
	sessions map[*session]struct{}
}

// errSessionCap refuses a persistent session over its owner's cap.
var errSessionCap = errors.New("too many persistent sessions for this owner")

// sessionKey scopes a client id to its owner: one owner's CONNECT never
// reaches another's session. Client ids cannot hold U+0000, so keys of
// different owners never collide; the anonymous class keeps bare ids.
func sessionKey(ownerName, clientID string) string {
	if ownerName == "" {
		return clientID
	}
	return ownerName + "\x00" + clientID
}

// ownerLocked returns (creating) name's entry; s.mu is held.
func (s *Server) ownerLocked(name string) *owner {
	o := s.owners[name]
	if o == nil {
		o = &owner{conns: map[*conn]struct{}{}, sessions: map[*session]struct{}{}}
		s.owners[name] = o
	}
	return o
}

// dropOwnerLocked forgets an owner with nothing left; s.mu is held.
func (s *Server) dropOwnerLocked(name string, o *owner) {
	if len(o.conns) == 0 && len(o.sessions) == 0 {
		delete(s.owners, name)
	}
}

// sessionCap is the most persistent sessions name may hold.
func (s *Server) sessionCap(name string) int {
	if name == "" {
		return s.opts.MaxAnonymousSessions
	}
	return s.opts.MaxOwnerSessions
}

// keepSessionLocked counts a persistent session against its owner's cap;
// s.mu is held.
func (s *Server) keepSessionLocked(sess *session) error {
	o := s.ownerLocked(sess.owner)
	if _, ok := o.sessions[sess]; ok {
		return nil
	}
	if len(o.sessions) >= s.sessionCap(sess.owner) {
		s.dropOwnerLocked(sess.owner, o)
		return errSessionCap
	}
	o.sessions[sess] = struct{}{}
	return nil
}

// releaseSessionLocked stops counting a session; s.mu is held.
func (s *Server) releaseSessionLocked(sess *session) {
	if o := s.owners[sess.owner]; o != nil {
		delete(o.sessions, sess)
		s.dropOwnerLocked(sess.owner, o)
	}
}

// forgetConn removes a connection that ended.
func (s *Server) forgetConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.client == nil {
		return
	}
	name := c.client.Owner()
	if o := s.owners[name]; o != nil {
		delete(o.conns, c)
		s.dropOwnerLocked(name, o)
	}
}

// Revoke closes every connection of owner (without sending their wills)
// and ends its persistent sessions, here, without blocking; the hooks call it on every
// process once owner's credentials are revoked, after recording the
// revocation where Client.Revoked sees it. It returns how many
// connections it closed.
func (s *Server) Revoke(name string) int {
	s.mu.Lock()
	o := s.owners[name]
	if o == nil {
		s.mu.Unlock()
		return 0
	}
	conns := make([]*conn, 0, len(o.conns))
	for c := range o.conns {
		conns = append(conns, c)
	}
	var offline []*session
	for sess := range o.sessions {
		if sess.conn.Load() == nil {
			offline = append(offline, sess)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.revoke()
	}
	if len(offline) > 0 {
		// Ending a session deletes its saved copy, an engine round trip:
		// not on the caller's goroutine (a bucket watch), which must not
		// block.
		go func() {
			for _, sess := range offline {
				s.endSession(sess)
			}
		}()
	}
	return len(conns)
}

// endSession forgets a session now, offline queue and saved copy
// included, unless a connection took it meanwhile.
func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.key] != sess || sess.conn.Load() != nil {
		s.mu.Unlock()
		return
	}
	delete(s.sessions, sess.key)
	s.releaseSessionLocked(sess)
	s.mu.Unlock()
	sess.mu.Lock()
	if sess.expiry != nil {
		sess.expiry.Stop()
	}
	sess.offline = nil
	sess.mu.Unlock()
	if sess.jn != nil {
		sess.jn.stop()
	}
	s.dropSubs(sess)
	if sess.persistent {
		s.hooks.SaveSession(sess.key, nil)
	}
}
