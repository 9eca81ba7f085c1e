package live

import (
	"strings"
	"testing"
)

// TestPosterRepliesOnly: the moderator answers only on subjects of the
// shape stadion makes for waiting HTTP posters.
func TestPosterRepliesOnly(t *testing.T) {
	r := newReplies(nil, "P1")
	_, made, _ := r.expect()
	for subject, want := range map[string]bool{
		made:                         true,
		"":                           false,
		"$KV.stadion-live.token-key": false,
		"_LIVE_REPLY.P1":             false,
		"_LIVE_REPLY.P1.k.extra":     false,
		"_LIVE_REPLY.P1.*":           false,
		"_LIVE_REPLY.>":              false,
		"mq.live.final.comments":     false,
		"live.comments.final":        false,
		"x._LIVE_REPLY.P1.k":         false,
	} {
		if got := isPosterReply(subject); got != want {
			t.Errorf("isPosterReply(%q) = %v, want %v", subject, got, want)
		}
	}
}

// FuzzIsPosterReply: an accepted subject is _LIVE_REPLY.<process>.<key>,
// two literal tokens.
func FuzzIsPosterReply(f *testing.F) {
	for _, s := range []string{"_LIVE_REPLY.P1.k", "_LIVE_REPLY.P1", "_LIVE_REPLY.P1.*", "$KV.x.y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isPosterReply(s) {
			return
		}
		rest, ok := strings.CutPrefix(s, replyRoot)
		parts := strings.Split(rest, ".")
		if !ok || len(parts) != 2 || parts[0] == "" || parts[1] == "" || strings.ContainsAny(rest, "*> \t\r\n") {
			t.Fatalf("accepted %q", s)
		}
	})
}
