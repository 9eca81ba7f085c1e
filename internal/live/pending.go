package live

import (
	"errors"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

// pendingSet holds, per retained topic of the bridge, the newest payload
// not yet stored in the retained bucket: the bridge's callback records
// every event's payload here (a newer one replaces an older one that the
// writer has not taken yet: it is coalesced away), and the bridge's one
// writer takes what is due and stores it.
//
// Per topic, writes follow the order of the events: an entry is taken by
// the writer with its sequence number; one recorded while the writer is
// busy with it gets a new sequence and is due again, so it is written
// after the older one, never before; and an entry leaves the set only
// once the write of its newest payload succeeded.
//
// The set is bounded by a number of distinct topics and their payloads'
// bytes. When it is full, record waits for the writer to make room (the
// bridge's subscription buffers the events behind it, within its own
// bounds), up to a deadline.
type pendingSet struct {
	maxTopics int
	maxBytes  int
	wake      chan struct{} // a token when something is due (capacity 1)

	mu      sync.Mutex
	entries map[string]*pendingEntry
	due     []string      // topics waiting for the writer, in the order they became due
	bytes   int           // payload bytes in entries
	room    chan struct{} // closed when entries leave; nil while nobody waits
	closed  bool
}

type pendingEntry struct {
	payload []byte
	seq     uint64 // bumped by every record
	queued  bool   // in due, not taken by the writer yet
}

// pendingWrite is an entry as the writer took it.
type pendingWrite struct {
	topic   string
	payload []byte
	seq     uint64
}

var (
	errPendingFull   = errors.New("the bridge's pending retained messages stayed full")
	errPendingClosed = errors.New("the bridge is stopped")
)

func newPendingSet(maxTopics, maxBytes int) *pendingSet {
	return &pendingSet{
		maxTopics: maxTopics, maxBytes: maxBytes,
		wake:    make(chan struct{}, 1),
		entries: map[string]*pendingEntry{},
	}
}

// record makes payload topic's newest value, waiting up to wait for room
// if the set is full. coalesced reports that it replaced a payload the
// writer had not taken.
func (p *pendingSet) record(topic string, payload []byte, wait time.Duration) (coalesced bool, err error) {
	var timer *time.Timer
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return false, errPendingClosed
		}
		e := p.entries[topic]
		if p.fits(e, len(payload)) {
			coalesced = p.set(topic, e, payload)
			p.mu.Unlock()
			return coalesced, nil
		}
		if p.room == nil {
			p.room = make(chan struct{})
		}
		room := p.room
		p.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-room:
		case <-timer.C:
			return false, errPendingFull
		}
	}
}

// fits reports whether a payload of n bytes for entry e (nil: a new
// topic) keeps the set within its bounds. An empty set takes any
// payload, so one larger than the byte bound still gets through.
func (p *pendingSet) fits(e *pendingEntry, n int) bool {
	if e == nil && len(p.entries) >= p.maxTopics {
		return false
	}
	grow := n
	if e != nil {
		grow -= len(e.payload)
	}
	return grow <= 0 || p.bytes == 0 || p.bytes+grow <= p.maxBytes
}

func (p *pendingSet) set(topic string, e *pendingEntry, payload []byte) (coalesced bool) {
	if e == nil {
		e = &pendingEntry{}
		p.entries[topic] = e
	}
	coalesced = e.queued
	p.bytes += len(payload) - len(e.payload)
	e.payload = payload
	e.seq++
	if !e.queued {
		e.queued = true
		p.due = append(p.due, topic)
		p.poke()
	}
	return coalesced
}

// poke tells the writer that something is due.
func (p *pendingSet) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take hands the writer up to n due entries, oldest first.
func (p *pendingSet) take(n int) []pendingWrite {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = min(n, len(p.due))
	out := make([]pendingWrite, n)
	for i, topic := range p.due[:n] {
		e := p.entries[topic]
		e.queued = false
		out[i] = pendingWrite{topic: topic, payload: e.payload, seq: e.seq}
	}
	p.due = append(p.due[:0:0], p.due[n:]...)
	return out
}

// finish settles a write the writer took: stored, the entry leaves the
// set unless a newer payload came meanwhile (that one is due); failed, it
// is due again (with the newer payload, if one came).
func (p *pendingSet) finish(w pendingWrite, stored bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[w.topic]
	if e == nil || e.seq != w.seq {
		return
	}
	if !stored {
		e.queued = true
		p.due = append(p.due, w.topic)
		return
	}
	delete(p.entries, w.topic)
	p.bytes -= len(e.payload)
	if p.room != nil {
		close(p.room)
		p.room = nil
	}
}

// close refuses further records and wakes those waiting for room.
func (p *pendingSet) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.room != nil {
		close(p.room)
		p.room = nil
	}
}

// size is the number of topics in the set and of those due.
func (p *pendingSet) size() (topics, due int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries), len(p.due)
}

// matching returns the newest pending payload of each topic filter
// matches: what the bucket will hold once the writer is done, and what a
// subscriber of this process gets meanwhile.
func (p *pendingSet) matching(filter string) map[string][]byte {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.entries) == 0 {
		return nil
	}
	if e, ok := p.entries[filter]; ok {
		return map[string][]byte{filter: e.payload}
	}
	var out map[string][]byte
	for topic, e := range p.entries {
		if mqtt.Match(filter, topic) {
			if out == nil {
				out = map[string][]byte{}
			}
			out[topic] = e.payload
		}
	}
	return out
}
