package live

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/loop"
)

// Room states.
const (
	stateOpen   = "open"
	stateSlow   = "slow"
	stateClosed = "closed"
)

// RoomState is how a room takes posts: open, slow (one post per user per
// interval) or closed.
type RoomState struct {
	State string        `json:"state"`
	Slow  time.Duration `json:"-"`
	// SlowText is Slow as written in the API ("10s").
	SlowText string    `json:"slow,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
}

// parseRoomState checks a state from the API.
func parseRoomState(st RoomState) (RoomState, error) {
	switch st.State {
	case stateOpen, stateClosed:
		st.Slow, st.SlowText = 0, ""
		return st, nil
	case stateSlow:
		d, err := time.ParseDuration(st.SlowText)
		if err != nil || d < time.Second || d > time.Hour {
			return st, fmt.Errorf("slow must be a duration between 1s and 1h, e.g. \"10s\", not %q", st.SlowText)
		}
		st.Slow, st.SlowText = d, d.String()
		return st, nil
	}
	return st, fmt.Errorf("state must be open, slow or closed, not %q", st.State)
}

// roomStates follows the room states in the live bucket (keys
// room.<name>); rooms never set are open.
type roomStates struct {
	kv jetstream.KeyValue

	mu     sync.RWMutex
	states map[string]RoomState
	w      jetstream.KeyWatcher
}

const roomKeyPrefix = "room."

func openRooms(kv jetstream.KeyValue, log *slog.Logger) (*roomStates, error) {
	r := &roomStates{kv: kv, states: map[string]RoomState{}}
	w, err := kv.Watch(context.Background(), roomKeyPrefix+"*")
	if err != nil {
		return nil, err
	}
	r.w = w
	_, _ = loop.Follow(context.Background(), w, func(e jetstream.KeyValueEntry, _ bool) { r.apply(e, log) })
	return r, nil
}

func (r *roomStates) apply(e jetstream.KeyValueEntry, log *slog.Logger) {
	room := strings.TrimPrefix(e.Key(), roomKeyPrefix)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(r.states, room)
		return
	}
	var st RoomState
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		log.Warn("room state unreadable", "room", room, "err", err)
		return
	}
	if st, err := parseRoomState(st); err == nil {
		r.states[room] = st
	}
}

// get returns a room's state (open when never set).
func (r *roomStates) get(room string) RoomState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if st, ok := r.states[room]; ok {
		return st
	}
	return RoomState{State: stateOpen}
}

// set stores a room's state; every process follows it.
func (r *roomStates) set(ctx context.Context, room string, st RoomState) error {
	raw, _ := json.Marshal(st)
	_, err := r.kv.Put(ctx, roomKeyPrefix+room, raw)
	return err
}

func (r *roomStates) close() {
	if r.w != nil {
		r.w.Stop()
	}
}
