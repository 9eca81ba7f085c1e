package live

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/stadion-dev/stadion/internal/config"
)

// TestBannedWordsReloadWhileRunning changes the word list under a running
// service: the next comments are moderated with the new list.
func TestBannedWordsReloadWhileRunning(t *testing.T) {
	words := fstest.MapFS{"words.txt": {Data: []byte("# none yet\n")}}
	load := func() (*config.Config, error) {
		return config.Parse([]byte(strings.Replace(testConfig, "flood_users: 2", "flood_users: 2\n  banned_words_file: words.txt", 1)), words, ".")
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var reloads atomic.Int32
	h := startHarnessWith(t, cfg, func() (*config.Config, error) { reloads.Add(1); return load() })
	tok := h.token("u1", "One")
	var c Comment
	if code := h.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": "the referee is a potato"}, &c); code != 201 {
		t.Fatalf("before the reload: %d", code)
	}
	words["words.txt"] = &fstest.MapFile{Data: []byte("potato # vegetables are not allowed\n")}
	h.s.reload()
	var p struct{ Reason string }
	if code := h.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": "POTATO again"}, &p); code != 422 || p.Reason != reasonBanned {
		raw, _ := json.Marshal(p)
		t.Fatalf("after the reload: %d %s, want 422 banned_word", code, raw)
	}
	if reloads.Load() == 0 {
		t.Fatal("the reload function was never called")
	}
}
