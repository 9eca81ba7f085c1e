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
// separators taken out and remembered in gaps. Position k is the place
// before chars[k]; position len(chars) is the end of the text.
type stream struct {
	chars   []char
	pending uint8 // separator seen since the last character
	tmp     []rune
}

type char struct {
	r     rune
	cls   class
	gap   uint8 // what separated the previous character and this one
	flags uint8 // flags of the position before this character, set by finish
}

var streams = sync.Pool{New: func() any { return new(stream) }}

// getStream returns an empty stream from the pool.
func getStream() *stream {
	s := streams.Get().(*stream)
	s.reset()
	return s
}

func (s *stream) reset() {
	s.chars = s.chars[:0]
	s.pending = gapNone
}

// putStream returns s to the pool unless a huge text made it too big to keep.
func putStream(s *stream) {
	if cap(s.chars) <= 1<<16 {
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
		if len(s.chars) == 0 {
			g = gapNone
		}
		s.chars = append(s.chars, char{r: r, cls: c, gap: g})
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
	n := len(s.chars)
	if n == 0 {
		return
	}
	s.chars[0].flags = flagBoundary
	gap, left, start := 0, 0, 0 // gap: last separator, left: length of the piece before it
	for k := 1; k <= n; k++ {
		if k < n && s.chars[k].gap == gapNone {
			s.chars[k].flags = 0
			if s.chars[k-1].cls != s.chars[k].cls {
				s.chars[k].flags = flagBoundary
			}
			continue
		}
		if gap > 0 {
			s.chars[gap].flags = s.gapFlags(gap, left, k-gap)
		}
		gap, left, start = k, k-start, k
	}
}

// flags returns the flags of position k.
func (s *stream) flags(k int) uint8 {
	if k == len(s.chars) {
		return flagBoundary
	}
	return s.chars[k].flags
}

func (s *stream) gapFlags(k, left, right int) uint8 {
	if s.chars[k].gap != gapSpace || (left == 1 && right == 1) ||
		(s.chars[k-1].cls == classUnspaced && s.chars[k].cls == classUnspaced) {
		return flagBoundary
	}
	return flagBoundary | flagHard
}

// key returns the folded characters as a string.
func (s *stream) key() string {
	var b strings.Builder
	for _, c := range s.chars {
		b.WriteRune(c.r)
	}
	return b.String()
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
	for _, c := range st.chars {
		switch c.gap {
		case gapSpace:
			b.WriteByte(' ')
		case gapPunct:
			b.WriteByte('.')
		}
		b.WriteRune(c.r)
	}
	return norm.NFC.String(b.String())
}
