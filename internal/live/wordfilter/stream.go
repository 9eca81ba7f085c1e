package wordfilter

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// What separated two adjacent characters of a stream.
const (
	gapNone  uint8 = iota
	gapPunct       // only punctuation or symbols ("b.a.n", "fu-ck")
	gapSpace       // at least one whitespace character
)

// Flags of a position of a stream (the place between two characters).
const (
	flagBoundary uint8 = 1 << iota // a word may start or end here
	flagHard                       // a match may cross here only where the banned word has a separator
)

// stream is a text after folding: the characters that are matched, with
// separators taken out and remembered in gaps.
type stream struct {
	runes   []rune
	cls     []class
	gaps    []uint8 // gaps[k]: what separated runes[k-1] and runes[k]
	flags   []uint8 // flags[k] for k in [0, len(runes)], set by finish
	pending uint8   // separator seen since the last character
	tmp     []rune
}

var streams = sync.Pool{New: func() any { return new(stream) }}

// getStream returns an empty stream from the pool.
func getStream() *stream {
	s := streams.Get().(*stream)
	s.reset()
	return s
}

func (s *stream) reset() {
	s.runes, s.cls, s.gaps, s.flags = s.runes[:0], s.cls[:0], s.gaps[:0], s.flags[:0]
	s.pending = gapNone
}

// putStream returns s to the pool unless a huge text made it too big to keep.
func putStream(s *stream) {
	if cap(s.runes) <= 1<<16 {
		streams.Put(s)
	}
}

// add folds text and appends it to the stream.
func (s *stream) add(text string) {
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			e := &ascii[c]
			s.put(rune(e.b), e.kind, e.cls)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		s.addRune(r)
		i += size
	}
}

// addRune folds one non-ASCII rune.
func (s *stream) addRune(r rune) {
	if 0x4e00 <= r && r <= 0x9fff { // CJK unified ideographs: nothing to fold
		s.put(r, kindChar, classUnspaced)
		return
	}
	if invisible(r) {
		return
	}
	// A space that comes out of a decomposition (¨ → " \u0308") is not a
	// word break typed by the writer.
	spacing := unicode.IsSpace(r) || unicode.In(r, unicode.Z)
	s.tmp = decompose(s.tmp[:0], r)
	for _, d := range s.tmp {
		a, b := foldCase(d)
		s.putFolded(a, spacing)
		if b != 0 {
			s.putFolded(b, spacing)
		}
	}
}

func (s *stream) putFolded(r rune, spacing bool) {
	k, c := classify(r)
	if k == kindSpace && !spacing {
		k = kindPunct
	}
	s.put(r, k, c)
}

func (s *stream) put(r rune, k kind, c class) {
	switch k {
	case kindChar:
		g := s.pending
		if len(s.runes) == 0 {
			g = gapNone
		}
		s.runes = append(s.runes, r)
		s.cls = append(s.cls, c)
		s.gaps = append(s.gaps, g)
		s.pending = gapNone
	case kindSpace:
		s.pending = gapSpace
	case kindPunct:
		if s.pending == gapNone {
			s.pending = gapPunct
		}
	}
}

// finish computes the flags of every position. A separator is hard when it
// contains whitespace between two pieces of text that are not both single
// characters and not both CJK-like.
func (s *stream) finish() {
	n := len(s.runes)
	s.flags = append(s.flags[:0], make([]uint8, n+1)...)
	s.flags[0], s.flags[n] = flagBoundary, flagBoundary
	gap, left, start := 0, 0, 0 // gap: last separator, left: length of the piece before it
	for k := 1; k <= n; k++ {
		if k < n && s.gaps[k] == gapNone {
			if s.cls[k-1] != s.cls[k] {
				s.flags[k] = flagBoundary
			}
			continue
		}
		if gap > 0 {
			s.flags[gap] = s.gapFlags(gap, left, k-gap)
		}
		gap, left, start = k, k-start, k
	}
}

func (s *stream) gapFlags(k, left, right int) uint8 {
	if s.gaps[k] != gapSpace || (left == 1 && right == 1) ||
		(s.cls[k-1] == classUnspaced && s.cls[k] == classUnspaced) {
		return flagBoundary
	}
	return flagBoundary | flagHard
}

// Normalize returns s folded as the Matcher sees it (see the package
// documentation): case, width and look-alikes folded, invisible characters
// and disguising marks removed, each run of separators replaced by one
// space if it contained whitespace and by one '.' otherwise, leading and
// trailing separators removed, in NFC. Normalize is idempotent, and a
// Matcher finds the same word in Normalize(s) as in s.
func Normalize(s string) string {
	st := getStream()
	defer putStream(st)
	st.add(s)
	var b strings.Builder
	b.Grow(len(s))
	for k, r := range st.runes {
		switch st.gaps[k] {
		case gapSpace:
			b.WriteByte(' ')
		case gapPunct:
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}
