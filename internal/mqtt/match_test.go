package mqtt

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"live/a/comments", "live/a/comments", true},
		{"live/a/comments", "live/b/comments", false},
		{"live/+/comments", "live/b/comments", true},
		{"live/+/comments", "live/b/c/comments", false},
		{"live/#", "live/b/c/comments", true},
		{"live/#", "live", true},
		{"#", "anything/at/all", true},
		{"+", "one", true},
		{"+", "one/two", false},
		{"games/medals/+", "games/medals", false},
		{"games/medals/#", "games/medals", true},
		{"a/b", "a", false},
		{"a", "a/b", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}
