package live

import (
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/live/wordfilter"
)

func TestLimiterDecisions(t *testing.T) {
	pol := &policy{maxLength: 20, userRate: config.PostLimit{Count: 2, Per: time.Minute}, dupWindow: 30 * time.Second,
		floodUsers: 2, words: wordfilter.New([]string{"spam"})}
	t0 := time.Date(2026, 2, 4, 20, 0, 0, 0, time.UTC)
	open := RoomState{State: stateOpen}
	steps := []struct {
		name string
		user string
		text string
		at   time.Duration
		st   RoomState
		want string
	}{
		{"first comment", "a", "hello", 0, open, ""},
		{"same text again", "a", "HELLO", time.Second, open, reasonDuplicate},
		{"second comment", "a", "go go", 2 * time.Second, open, ""},
		{"third within the minute", "a", "more", 3 * time.Second, open, reasonRate},
		{"rate window passed", "a", "later", 61 * time.Second, open, ""},
		{"empty", "b", "   ", 62 * time.Second, open, reasonEmpty},
		{"too long", "b", "this comment is far too long", 62 * time.Second, open, reasonTooLong},
		{"banned, disguised", "b", "S.P.A.M", 62 * time.Second, open, reasonBanned},
		{"flood: second user with the same text", "b", "later", 63 * time.Second, open, ""},
		{"flood: third user", "c", "Later", 64 * time.Second, open, reasonFlood},
		{"closed room", "d", "hi", 65 * time.Second, RoomState{State: stateClosed}, reasonClosed},
		{"slow mode first", "e", "one", 66 * time.Second, RoomState{State: stateSlow, Slow: 10 * time.Second}, ""},
		{"slow mode too soon", "e", "two", 70 * time.Second, RoomState{State: stateSlow, Slow: 10 * time.Second}, reasonSlow},
		{"slow mode after the interval", "e", "three", 77 * time.Second, RoomState{State: stateSlow, Slow: 10 * time.Second}, ""},
	}
	l := newLimiter()
	for i, s := range steps {
		p := post{ID: string(rune('A' + i)), Room: "r", User: s.user, Text: s.text, At: t0.Add(s.at)}
		if got, _ := l.check(p, pol, s.st); got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}
}
