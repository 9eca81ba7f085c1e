package mqtt

import (
	"context"
	"errors"
	"time"
)

// Journal is an optional part of Hooks that makes persistent sessions
// outlive the process. The messages of the topics it keeps are numbered
// (Position) and read back from it: a persistent session gets them from
// its own Feed instead of through Deliver, and what the session owes
// (the last position it sent, the messages still in flight and their QoS
// 2 state) is saved with SaveState, so that any process can resume it
// after a reconnect, a restart or a kill -9. Messages of other topics
// reach persistent sessions through Deliver as before, and are kept in
// this process's memory only.
//
// The methods are called from connection goroutines and from each
// journaled session's feed goroutine; they must be safe for concurrent
// use and may block on the engine (the server bounds nothing for them).
type Journal interface {
	// Journaled reports whether topic's messages are in the journal.
	Journaled(topic string) bool
	// Head is the position of the newest journaled message: a session
	// that starts following a filter now is owed what comes after it.
	Head() (Position, error)
	// Follow reads, in order, the journaled messages after position
	// after that match one of filters (their granted QoS is the
	// session's business). It returns nil when no filter can match a
	// journaled topic.
	Follow(filters []Filter, after Position) (Feed, error)
	// Fetch returns the message at pos, for a redelivery; ok is false
	// when the journal no longer holds it.
	Fetch(pos Position) (m Message, ok bool, err error)
	// LoadState returns a session's saved state and its revision.
	LoadState(key string) (st *SessionState, rev uint64, err error)
	// SaveState writes st if the saved state is still at revision rev (0:
	// none) and returns the new revision. ErrSessionMoved means another
	// process saved it since: the session is no longer this process's.
	SaveState(key string, st *SessionState, rev uint64) (uint64, error)
	// Discard deletes a saved session, if any, unless it changed since
	// it was read: a client connected with CleanSession 1 (MQTT-3.1.2-6),
	// maybe to a process that did not hold its session.
	Discard(key string)
}

// ErrSessionMoved is returned by Journal.SaveState when another process
// saved the session since this one loaded it.
var ErrSessionMoved = errors.New("the session was taken over by another process")

// Position is where a message is in the journal: a sequence, and the
// index of the message among several stored together.
type Position struct {
	Seq   uint64 `json:"seq"`
	Index uint32 `json:"index,omitempty"`
}

// Less orders positions.
func (p Position) Less(q Position) bool {
	return p.Seq < q.Seq || (p.Seq == q.Seq && p.Index < q.Index)
}

// packetID is the packet id of the journaled message at p: fixed by its
// position, so that a process resuming the session after a crash resends
// a QoS 2 message under the id the client already holds (and the client
// does not deliver it twice, MQTT-4.3.3-2).
func (p Position) packetID() uint16 {
	return uint16((p.Seq*1024+uint64(p.Index))%65535) + 1
}

// JournalMessage is one message read from a Feed.
type JournalMessage struct {
	Message
	Pos  Position
	Time time.Time // when it was published
	// CaughtUp marks the end of the backlog (no Message): the messages
	// before it were published before the feed opened, those after it
	// since.
	CaughtUp bool
}

// Feed is a session's reader of the journal.
type Feed interface {
	// Next blocks until the next message (or the CaughtUp mark, once) or
	// until ctx ends.
	Next(ctx context.Context) (JournalMessage, error)
	// Stop releases the feed.
	Stop()
}

// SessionState is what a journaled persistent session saves. Every
// journaled message up to Mark was sent, and is done unless it is in
// Pending; those after Mark were never sent, except that any up to
// Reserved may have been (a crash after sending, before saving): they go
// out again with DUP set.
type SessionState struct {
	Filters  []Filter         `json:"filters"`
	Since    map[string]int64 `json:"since,omitempty"` // filter → unix nanoseconds it was granted at (its messages from then on are owed)
	Mark     Position         `json:"mark"`
	Reserved uint64           `json:"reserved,omitempty"`
	Pending  []Pending        `json:"pending,omitempty"`
	Created  int64            `json:"created"` // unix milliseconds
	Seen     int64            `json:"seen"`    // unix milliseconds: last saved while online, or when it went offline
	Online   bool             `json:"online,omitempty"`
	// Holder names the claim that wrote the state (random, per process
	// and resume), so that a save whose answer was lost (a timeout) is
	// recognised as this process's own when the next one fails.
	Holder string `json:"holder,omitempty"`
}

// Pending is a journaled message in flight: sent and not acknowledged,
// or (Released) a QoS 2 message the client received (PUBREC) whose
// PUBREL is due until PUBCOMP.
type Pending struct {
	Pos      Position `json:"pos"`
	QoS      byte     `json:"qos"`
	Released bool     `json:"rel,omitempty"`
}
