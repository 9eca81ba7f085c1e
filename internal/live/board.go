package live

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stadion-dev/stadion/internal/loop"
)

// The board: every process announces its rooms' counters each second on
// boardSubject, and every process adds up what the others announced, so
// any process answers GET /v1/live/{room} for the whole deployment.
const (
	boardSubject = "live.board"
	boardEvery   = time.Second
	boardStale   = 5 * time.Second
	rateWindow   = 5 // seconds over which comments/s is averaged
)

// RoomStats is one room's figures.
type RoomStats struct {
	Room      string           `json:"room"`
	State     RoomState        `json:"state"`
	Viewers   int              `json:"viewers"`
	PerSecond float64          `json:"comments_per_second"`
	Accepted  int64            `json:"accepted"`
	Rejected  map[string]int64 `json:"rejected"`
	Processes int              `json:"processes"`
}

// roomCounts is what one process knows of one room.
type roomCounts struct {
	Viewers  int              `json:"viewers"`
	Accepted int64            `json:"accepted"`
	Rejected map[string]int64 `json:"rejected,omitempty"`
	Rate     float64          `json:"rate"`
	// buckets count accepted comments per second, for Rate.
	buckets [rateWindow + 1]int64
	stamp   int64 // the second buckets[0] is
}

type announcement struct {
	Process string                 `json:"process"`
	Rooms   map[string]*roomCounts `json:"rooms"`
	at      time.Time
}

type board struct {
	s   *Service
	sub *nats.Subscription

	mu     sync.Mutex
	mine   map[string]*roomCounts
	others map[string]announcement
}

func newBoard(s *Service) *board {
	return &board{s: s, mine: map[string]*roomCounts{}, others: map[string]announcement{}}
}

func (b *board) start() error {
	sub, err := b.s.nc.Subscribe(boardSubject, func(m *nats.Msg) {
		var a announcement
		if json.Unmarshal(m.Data, &a) != nil || a.Process == "" {
			return
		}
		a.at = time.Now()
		b.mu.Lock()
		b.others[a.Process] = a
		b.mu.Unlock()
	})
	b.sub = sub
	return err
}

func (b *board) stopSubs() {
	if b.sub != nil {
		b.sub.Unsubscribe()
	}
}

// count records one moderated comment of room.
func (b *board) count(room string, accepted bool, reason string) {
	now := time.Now().Unix()
	b.mu.Lock()
	defer b.mu.Unlock()
	rc := b.room(room)
	if !accepted {
		rc.Rejected[reason]++
		return
	}
	rc.Accepted++
	rc.roll(now)
	rc.buckets[0]++
}

func (b *board) room(room string) *roomCounts {
	rc := b.mine[room]
	if rc == nil {
		rc = &roomCounts{Rejected: map[string]int64{}}
		b.mine[room] = rc
	}
	return rc
}

// roll moves the per-second buckets to now.
func (rc *roomCounts) roll(now int64) {
	shift := now - rc.stamp
	if shift <= 0 {
		return
	}
	if shift > rateWindow {
		rc.buckets = [rateWindow + 1]int64{}
	} else {
		copy(rc.buckets[shift:], rc.buckets[:rateWindow+1-shift])
		for i := range shift {
			rc.buckets[i] = 0
		}
	}
	rc.stamp = now
}

// run announces this process's counters every second.
func (b *board) run(ctx context.Context) { loop.Every(ctx, boardEvery, b.announce) }

func (b *board) announce() {
	raw, _ := json.Marshal(b.snapshot())
	b.s.nc.Publish(boardSubject, raw)
}

// snapshot is this process's announcement as of now.
func (b *board) snapshot() announcement {
	now := time.Now().Unix()
	b.mu.Lock()
	a := announcement{Process: b.s.id, Rooms: map[string]*roomCounts{}}
	for room, rc := range b.mine {
		rc.roll(now)
		var sum int64
		for _, n := range rc.buckets[1:] { // whole seconds only
			sum += n
		}
		c := &roomCounts{Accepted: rc.Accepted, Rejected: maps.Clone(rc.Rejected), Rate: float64(sum) / rateWindow}
		c.Viewers = b.s.viewers(room)
		a.Rooms[room] = c
	}
	b.mu.Unlock()
	for _, room := range b.s.watchedRooms() {
		if _, ok := a.Rooms[room]; !ok {
			a.Rooms[room] = &roomCounts{Viewers: b.s.viewers(room)}
		}
	}
	return a
}

// stats adds up the announcements of every other live process for room,
// and this process's own counts as of now.
func (b *board) stats(room string) RoomStats {
	st := RoomStats{Room: room, Rejected: map[string]int64{}}
	self := b.snapshot()
	self.at = time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.others[self.Process] = self
	for id, a := range b.others {
		if time.Since(a.at) > boardStale {
			delete(b.others, id)
			continue
		}
		st.Processes++
		rc := a.Rooms[room]
		if rc == nil {
			continue
		}
		st.Viewers += rc.Viewers
		st.Accepted += rc.Accepted
		st.PerSecond += rc.Rate
		for r, n := range rc.Rejected {
			st.Rejected[r] += n
		}
	}
	return st
}
