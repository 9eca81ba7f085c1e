package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"
)

// reserveAhead is how far, in journal sequences, a journaled session may
// send past its last saved reservation: a save every reserveAhead
// sequences at most, and a crash makes at most those go out again with
// DUP set without having been sent.
const reserveAhead = 1024

// saveEvery is how often a journaled session saves acknowledgements
// (PUBACK, PUBCOMP) that did not need a save of their own: a QoS 1
// message acknowledged less than this before a crash is sent again, with
// DUP set (MQTT allows it).
const saveEvery = time.Second

// journaled is the part of a persistent session that lives in the
// Journal: while the client is online, a feed goroutine reads the
// messages it is owed from the journal (the backlog first, bounded by
// MaxOfflineMessages and MaxOfflineBytes, then new ones) and sends them
// within MaxInflight, and a saver goroutine writes the session's state
// (before a PUBREL, every reserveAhead sequences, and at most every
// saveEvery for acknowledgements). Its fields are guarded by sess.mu.
type journaled struct {
	sess *session
	j    Journal

	rev       uint64           // the saved state's revision: another process's save fences this one off
	holder    string           // this claim's name in the saved state
	mark      Position         // the last journaled message sent
	reserved  uint64           // sequences up to here may be sent before the next save
	dupTo     uint64           // at restore: sequences after mark up to here may have been sent already
	since     map[string]int64 // filter → when it was granted (unix ns)
	created   int64
	dirty     bool     // acknowledgements not saved yet
	releasing []uint16 // QoS 2 ids PUBREC'd: PUBREL waits for the save
	lastSave  time.Time
	freed     chan struct{} // an in-flight slot or packet id was freed
	kick      chan struct{} // a save is due now
	dirtied   chan struct{} // a save is due within saveEvery

	saveMu sync.Mutex // one save at a time
	runMu  sync.Mutex
	run    *journalRun
}

type journalRun struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newJournaled(sess *session, j Journal) *journaled {
	return &journaled{sess: sess, j: j, since: map[string]int64{}, created: time.Now().UnixMilli(),
		freed: make(chan struct{}, 1), kick: make(chan struct{}, 1), dirtied: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// freedLocked wakes the feed waiting for room; sess.mu is held.
func (j *journaled) freedLocked() {
	if !j.dirty {
		j.dirty = true
		signal(j.dirtied)
	}
	signal(j.freed)
}

// releaseLocked queues a PUBREC'd QoS 2 message's PUBREL behind a save;
// sess.mu is held.
func (j *journaled) releaseLocked(id uint16) {
	j.releasing = append(j.releasing, id)
	signal(j.kick)
}

func (j *journaled) releasingLocked(id uint16) bool { return slices.Contains(j.releasing, id) }

// stateLocked is the state to save; sess.mu is held.
func (j *journaled) stateLocked(online bool) *SessionState {
	s := j.sess
	st := &SessionState{Mark: j.mark, Created: j.created, Holder: j.holder,
		Seen: time.Now().UnixMilli(), Online: online, Since: map[string]int64{}}
	if online {
		// Offline, nothing is sent past the mark: nothing is uncertain.
		st.Reserved = j.reserved
	}
	for f, q := range s.subs {
		st.Filters = append(st.Filters, Filter{Topic: f, QoS: q})
		if t := j.since[f]; t != 0 {
			st.Since[f] = t
		}
	}
	for _, id := range s.order {
		o := s.inflight[id]
		if o.pos == nil {
			continue
		}
		// A release not saved yet is saved as sent: its PUBREL has
		// not gone.
		rel := o.released && !slices.Contains(j.releasing, id)
		st.Pending = append(st.Pending, Pending{Pos: *o.pos, QoS: o.m.QoS, Released: rel})
	}
	return st
}

// save writes the session's state; PUBRELs waiting for it go out after.
func (j *journaled) save(online bool) error {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	s := j.sess
	s.mu.Lock()
	rels := slices.Clone(j.releasing)
	st := j.stateLocked(online)
	for i := range st.Pending {
		if slices.Contains(rels, st.Pending[i].Pos.packetID()) {
			st.Pending[i].Released = true
		}
	}
	rev, dirty := j.rev, j.dirty
	j.dirty = false
	if !online {
		j.reserved = 0 // saved as such: the next send saves first
	}
	s.mu.Unlock()
	newRev, err := j.j.SaveState(s.key, st, rev)
	if errors.Is(err, ErrSessionMoved) {
		// An earlier save whose answer was lost (a timeout) may have
		// landed: if the entry is still this claim's, go on from it.
		if cur, curRev, lerr := j.j.LoadState(s.key); lerr == nil && cur != nil && cur.Holder == j.holder && j.holder != "" {
			newRev, err = j.j.SaveState(s.key, st, curRev)
		}
	}
	s.mu.Lock()
	if err != nil {
		j.dirty = j.dirty || dirty
		s.mu.Unlock()
		if errors.Is(err, ErrSessionMoved) {
			s.srv.moved(s)
		}
		return err
	}
	j.rev, j.lastSave = newRev, time.Now()
	j.releasing = slices.DeleteFunc(j.releasing, func(id uint16) bool { return slices.Contains(rels, id) })
	var pkts [][]byte
	for _, id := range rels {
		if o := s.inflight[id]; o != nil && o.released {
			pkts = append(pkts, pubrel(id))
		}
	}
	c := s.conn.Load()
	s.mu.Unlock()
	if c != nil && len(pkts) > 0 {
		c.send(pkts, false)
	}
	return nil
}

// reserve saves before the feed sends past the reservation.
func (j *journaled) reserve(seq uint64) error {
	j.sess.mu.Lock()
	if seq <= j.reserved {
		j.sess.mu.Unlock()
		return nil
	}
	prev := j.reserved
	j.reserved = seq + reserveAhead
	j.sess.mu.Unlock()
	err := j.save(true)
	if err != nil {
		j.sess.mu.Lock()
		j.reserved = min(j.reserved, prev)
		j.sess.mu.Unlock()
	}
	return err
}

// start runs the feed and the saver unless they run.
func (j *journaled) start() {
	j.runMu.Lock()
	defer j.runMu.Unlock()
	if j.run != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &journalRun{cancel: cancel}
	j.run = r
	r.wg.Add(2)
	go func() { defer r.wg.Done(); j.saver(ctx) }()
	go func() { defer r.wg.Done(); j.follow(ctx) }()
}

// stop ends the feed and the saver and waits for them.
func (j *journaled) stop() {
	j.runMu.Lock()
	r := j.run
	j.run = nil
	j.runMu.Unlock()
	if r != nil {
		r.cancel()
		r.wg.Wait()
	}
}

// restart follows the session's filters of the moment.
func (j *journaled) restart() {
	j.stop()
	if j.sess.conn.Load() != nil {
		j.start()
	}
}

// saver saves at once when a PUBREL waits (kick), a second after the
// first unsaved acknowledgement (dirtied, so that acknowledgements share
// a write), and every quarter of the expiry (the entry's sign of life);
// an idle session costs no wake-ups in between.
func (j *journaled) saver(ctx context.Context) {
	refresh := j.sess.srv.opts.SessionExpiry / 4
	t := time.NewTimer(refresh)
	defer t.Stop()
	for {
		j.sess.mu.Lock()
		next := refresh - time.Since(j.lastSave)
		j.sess.mu.Unlock()
		t.Reset(max(next, 0))
		select {
		case <-ctx.Done():
			return
		case <-j.kick:
		case <-j.dirtied:
			sleepCtx(ctx, saveEvery)
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		if err := j.save(true); err != nil {
			if errors.Is(err, ErrSessionMoved) {
				return
			}
			// Counted, logged at debug: a storm makes thousands.
			j.sess.srv.stats.FeedRetries.Add(1)
			j.sess.srv.log.Debug("mqtt session not saved; retrying", "session", j.sess.key, "err", err)
			signal(j.kick)
			sleepCtx(ctx, saveEvery)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// follow reads what the session is owed from the journal and sends it,
// reading again from the mark after an engine error (with a growing
// pause, at most 10 s): under a reconnect storm the engine may answer
// slowly, and closing the connection would only bring the client back
// to ask again.
func (j *journaled) follow(ctx context.Context) {
	pause := 250 * time.Millisecond
	for {
		err := j.read(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		j.sess.srv.stats.FeedRetries.Add(1)
		j.sess.srv.log.Debug("mqtt session cannot read the journal; trying again", "session", j.sess.key, "in", pause, "err", err)
		sleepCtx(ctx, pause)
		pause = min(2*pause, 10*time.Second)
	}
}

// read follows the journal from the mark: the backlog (published before
// the feed opened) once caught up, keeping only its newest
// MaxOfflineMessages and MaxOfflineBytes, then each new message as it
// comes. It returns nil when done for good, or the engine's error.
func (j *journaled) read(ctx context.Context) error {
	s := j.sess
	s.mu.Lock()
	var filters []Filter
	for f, q := range s.subs {
		if q > 0 {
			filters = append(filters, Filter{Topic: f, QoS: q})
		}
	}
	after := j.mark
	s.mu.Unlock()
	if len(filters) == 0 {
		return nil
	}
	feed, err := j.j.Follow(filters, after)
	if err != nil || feed == nil {
		return err
	}
	defer feed.Stop()
	s.srv.stats.Feeds.Add(1)
	defer s.srv.stats.Feeds.Add(-1)
	o := &s.srv.opts
	var backlog []JournalMessage
	size, caught := 0, false
	for {
		m, err := feed.Next(ctx)
		if err != nil {
			return err
		}
		switch {
		case m.CaughtUp:
			caught = true
			for _, b := range backlog {
				if !j.send(ctx, b) {
					j.lost(ctx)
					return nil
				}
			}
			backlog, size = nil, 0
		case !caught:
			backlog = append(backlog, m)
			size += len(m.Payload)
			for len(backlog) > o.MaxOfflineMessages || size > o.MaxOfflineBytes {
				size -= len(backlog[0].Payload)
				backlog[0] = JournalMessage{}
				backlog = backlog[1:]
				s.srv.stats.OfflineDropped.Add(1)
			}
		default:
			if !j.send(ctx, m) {
				j.lost(ctx)
				return nil
			}
		}
	}
}

// lost closes the connection of a session whose feed stopped on an error
// (its state could not be saved): the client reconnects and resumes from
// what was saved.
func (j *journaled) lost(ctx context.Context) {
	if ctx.Err() != nil {
		return // stopped on purpose
	}
	if c := j.sess.conn.Load(); c != nil {
		j.sess.srv.log.Warn("mqtt session state not saved; closing its connection", "session", j.sess.key)
		c.shutdown()
	}
}

// qosLocked is the QoS the session gets m at (0: not for it): the highest
// of its filters that match m's topic and were granted before m was
// published; sess.mu is held.
func (j *journaled) qosLocked(m JournalMessage) byte {
	q := byte(0)
	for f, g := range j.sess.subs {
		if g > q && Match(f, m.Topic) && (j.since[f] == 0 || m.Time.UnixNano() >= j.since[f]) {
			q = g
		}
	}
	return min(q, m.QoS)
}

// send sends one journaled message once there is room in flight and its
// packet id is free; it reports false when the feed should stop.
func (j *journaled) send(ctx context.Context, m JournalMessage) bool {
	s := j.sess
	for pause := 250 * time.Millisecond; ; pause = min(2*pause, 10*time.Second) {
		err := j.reserve(m.Pos.Seq)
		if err == nil {
			break
		}
		if errors.Is(err, ErrSessionMoved) || ctx.Err() != nil {
			return false
		}
		// The engine is slow or away: wait, the client kept connected.
		s.srv.stats.FeedRetries.Add(1)
		s.srv.log.Debug("mqtt session not saved before sending; trying again", "session", s.key, "in", pause, "err", err)
		sleepCtx(ctx, pause)
	}
	id := m.Pos.packetID()
	for {
		s.mu.Lock()
		if !m.Pos.Less(j.mark) && m.Pos != j.mark {
			c := s.conn.Load()
			_, busy := s.inflight[id]
			if c != nil && !busy && len(s.inflight) < s.srv.opts.MaxInflight {
				j.sendLocked(c, m, id)
				s.mu.Unlock()
				return true
			}
		} else {
			s.mu.Unlock()
			return true // sent already (restored in flight)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-j.freed:
		}
	}
}

// sendLocked writes m under id; sess.mu is held.
func (j *journaled) sendLocked(c *conn, m JournalMessage, id uint16) {
	s := j.sess
	j.mark = m.Pos
	q := j.qosLocked(m)
	if q == 0 {
		return // unsubscribed meanwhile, or its filter is newer than m
	}
	msg := m.Message
	msg.QoS, msg.Retain = q, false
	pos := m.Pos
	if s.inflight == nil {
		s.inflight = map[uint16]*outbound{}
	}
	s.inflight[id] = &outbound{m: msg, on: c, pos: &pos}
	s.order = append(s.order, id)
	dup := m.Pos.Seq <= j.dupTo
	if c.queue([][]byte{AppendPublish(nil, msg, dup, id)}, false) {
		s.srv.stats.Delivered.Add(1)
	}
}

// restore loads the session saved by any process (or before a restart)
// and claims it; present is false for a new or expired session.
func (j *journaled) restore(c *conn) (present bool, err error) {
	s := j.sess
	var st *SessionState
	var rev, loadedReserved uint64
	holder := newHolder()
	for attempt := 0; ; attempt++ {
		if st, rev, err = j.j.LoadState(s.key); err != nil {
			return false, err
		}
		now := time.Now()
		if st != nil && now.Sub(time.UnixMilli(st.Seen)) > s.srv.opts.SessionExpiry {
			st = nil // expired while no process held it
		}
		present = st != nil
		if st == nil {
			head, err := j.j.Head()
			if err != nil {
				return false, err
			}
			st = &SessionState{Mark: head, Created: now.UnixMilli()}
		}
		loadedReserved = st.Reserved
		// The claim reserves too, so that the first sends need no save.
		st.Online, st.Seen, st.Holder = true, now.UnixMilli(), holder
		st.Reserved = max(st.Reserved, st.Mark.Seq+reserveAhead)
		var newRev uint64
		newRev, err = j.j.SaveState(s.key, st, rev)
		if errors.Is(err, ErrSessionMoved) && attempt < 3 {
			continue // saved meanwhile by the process it was on: read again
		}
		if err != nil {
			return false, err
		}
		rev = newRev
		break
	}
	dupTo := loadedReserved
	if dupTo > st.Mark.Seq {
		// What the last process may have sent existed when it stopped:
		// newer messages go out without DUP.
		head, err := j.j.Head()
		if err != nil {
			return false, err
		}
		dupTo = min(dupTo, head.Seq)
	}
	s.mu.Lock()
	j.rev, j.mark, j.reserved, j.dupTo, j.created = rev, st.Mark, st.Reserved, dupTo, st.Created
	j.holder = holder
	j.lastSave = time.Now()
	for f, t := range st.Since {
		j.since[f] = t
	}
	s.mu.Unlock()
	for _, f := range st.Filters {
		if c.client.CanSubscribe(f.Topic) {
			s.srv.addSub(s, f.Topic, min(f.QoS, 2)) // over the caps: left out
		}
	}
	for _, p := range st.Pending {
		o := &outbound{released: p.Released, pos: &p.Pos, m: Message{QoS: p.QoS}}
		if !p.Released {
			m, ok, err := j.j.Fetch(p.Pos)
			if err != nil {
				return false, err
			}
			if !ok {
				s.srv.stats.OwedGone.Add(1)
				continue
			}
			m.QoS, m.Retain = p.QoS, false
			o.m = m
		}
		s.mu.Lock()
		id := p.Pos.packetID()
		if _, busy := s.inflight[id]; !busy {
			if s.inflight == nil {
				s.inflight = map[uint16]*outbound{}
			}
			s.inflight[id] = o
			s.order = append(s.order, id)
		}
		s.mu.Unlock()
	}
	return present, nil
}

// newHolder names one claim of a session.
func newHolder() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
