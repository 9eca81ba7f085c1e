package live

import "testing"

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
		"x._LIVE_REPLY.P1.k":         false,
	} {
		if got := isPosterReply(subject); got != want {
			t.Errorf("isPosterReply(%q) = %v, want %v", subject, got, want)
		}
	}
}
