package live

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/live/wordfilter"
)

// policy is the moderation settings of one moment; a reload swaps the
// whole of it.
type policy struct {
	maxLength  int
	userRate   config.PostLimit
	dupWindow  time.Duration
	floodUsers int
	words      *wordfilter.Matcher
	// files are the files the policy was read from, with their contents,
	// so that a reload notices changes.
	fingerprint string
}

type policyHolder struct{ atomic.Pointer[policy] }

// newPolicy builds the policy of a configuration, reading its banned
// words file. When nothing differs from prev, it returns prev (building a
// matcher of many words is not free).
func newPolicy(cfg *config.Config, prev *policy) (*policy, error) {
	l := cfg.Live
	words := append([]string(nil), l.BannedWords...)
	var fileText []byte
	if l.BannedWordsFile != "" {
		raw, err := cfg.ReadFile(l.BannedWordsFile)
		if err != nil {
			return nil, fmt.Errorf("live.banned_words_file: %w", err)
		}
		fileText = raw
		words = append(words, parseWords(raw)...)
	}
	fp := fmt.Sprintf("%d|%v|%s|%d|%q|%x", l.MaxLength, l.UserRate, l.DuplicateWindow, l.FloodUsers, l.BannedWords, fileText)
	if prev != nil && prev.fingerprint == fp {
		return prev, nil
	}
	return &policy{
		maxLength: l.MaxLength, userRate: l.UserRate, dupWindow: l.DuplicateWindow.D(),
		floodUsers: l.FloodUsers, words: wordfilter.New(words), fingerprint: fp,
	}, nil
}

// parseWords reads a word list: one per line, '#' starts a comment.
func parseWords(raw []byte) []string {
	var words []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if w := strings.TrimSpace(line); w != "" {
			words = append(words, w)
		}
	}
	return words
}
