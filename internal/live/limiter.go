package live

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/live/wordfilter"
)

// limiter remembers recent posts for the per-user rate limit, slow mode,
// duplicate and flood checks. It is shared by the workers of one process;
// with several processes each remembers what it moderated, so a user whose
// posts are spread over n processes can reach up to n times the limits.
type limiter struct {
	mu        sync.Mutex
	seed      maphash.Seed
	users     map[string]*userState
	floods    map[uint64]*floodState // hash of room and normalized text
	lastSweep time.Time
}

type userState struct {
	times  []time.Time          // accepted posts, oldest first
	texts  map[uint64]time.Time // hash of normalized text → last accepted
	rooms  map[string]time.Time // room → last accepted (slow mode)
	latest time.Time
}

type floodState struct {
	first time.Time
	users map[string]struct{}
}

// keepUsers is how long a quiet user's state is kept (the longest slow
// mode).
const keepUsers = time.Hour

func newLimiter() *limiter {
	return &limiter{seed: maphash.MakeSeed(), users: map[string]*userState{}, floods: map[uint64]*floodState{}}
}

// check decides one post; "" accepts it (and remembers it).
func (l *limiter) check(p post, pol *policy, st RoomState) (reason, detail string) {
	switch {
	case st.State == stateClosed:
		return reasonClosed, "the room is closed to new comments"
	case strings.TrimSpace(p.Text) == "":
		return reasonEmpty, "the comment is empty"
	case utf8.RuneCountInString(p.Text) > pol.maxLength:
		return reasonTooLong, fmt.Sprintf("comments are at most %d characters", pol.maxLength)
	}
	if _, bad := pol.words.Find(p.Text); bad {
		return reasonBanned, "the comment contains a word that is not allowed"
	}
	norm := maphash.String(l.seed, wordfilter.Normalize(p.Text))
	key := maphash.String(l.seed, p.Room) ^ norm*0x9e3779b97f4a7c15
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(p.At, pol)
	u := l.users[p.User]
	if u == nil {
		u = &userState{texts: map[uint64]time.Time{}, rooms: map[string]time.Time{}}
		l.users[p.User] = u
	}
	if reason, detail := u.limits(p, pol, st, norm); reason != "" {
		return reason, detail
	}
	f := l.floods[key]
	if f != nil && p.At.Sub(f.first) > pol.dupWindow {
		f = nil
	}
	if f == nil {
		f = &floodState{first: p.At, users: map[string]struct{}{}}
		l.floods[key] = f
	}
	if _, mine := f.users[p.User]; !mine && len(f.users) >= pol.floodUsers {
		return reasonFlood, "many viewers just posted this same comment"
	}
	f.users[p.User] = struct{}{}
	u.accept(p, pol, norm)
	return "", ""
}

// limits applies slow mode, the rate limit and duplicate suppression.
func (u *userState) limits(p post, pol *policy, st RoomState, norm uint64) (string, string) {
	if st.State == stateSlow {
		if last, ok := u.rooms[p.Room]; ok && p.At.Sub(last) < st.Slow {
			return reasonSlow, fmt.Sprintf("slow mode: one comment every %s", st.Slow)
		}
	}
	if !pol.userRate.Off() {
		n := 0
		for _, t := range u.times {
			if p.At.Sub(t) < pol.userRate.Per {
				n++
			}
		}
		if n >= pol.userRate.Count {
			return reasonRate, fmt.Sprintf("at most %d comments per %s", pol.userRate.Count, pol.userRate.Per)
		}
	}
	if last, ok := u.texts[norm]; ok && p.At.Sub(last) < pol.dupWindow {
		return reasonDuplicate, "you just posted the same comment"
	}
	return "", ""
}

func (u *userState) accept(p post, pol *policy, norm uint64) {
	u.times = append(u.times, p.At)
	if keep := pol.userRate.Count; keep > 0 && len(u.times) > keep {
		u.times = u.times[len(u.times)-keep:]
	} else if keep == 0 {
		u.times = u.times[:0]
	}
	u.texts[norm] = p.At
	u.rooms[p.Room] = p.At
	u.latest = p.At
}

// sweep forgets what no check can need any more, at most every 10 s.
func (l *limiter) sweep(now time.Time, pol *policy) {
	if now.Sub(l.lastSweep) < 10*time.Second {
		return
	}
	l.lastSweep = now
	for id, u := range l.users {
		if now.Sub(u.latest) > keepUsers {
			delete(l.users, id)
			continue
		}
		for t, at := range u.texts {
			if now.Sub(at) > pol.dupWindow {
				delete(u.texts, t)
			}
		}
	}
	for k, f := range l.floods {
		if now.Sub(f.first) > pol.dupWindow {
			delete(l.floods, k)
		}
	}
}
