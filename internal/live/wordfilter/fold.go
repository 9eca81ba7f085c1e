package wordfilter

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// kind is what a folded rune contributes to a stream.
type kind uint8

const (
	kindDrop  kind = iota // invisible: as if it were not there
	kindSpace             // whitespace separator
	kindPunct             // punctuation or symbol separator
	kindChar              // a character that is matched
)

// class decides where word boundaries are between two adjacent characters.
type class uint8

const (
	classOther    class = iota // emoji and other symbols kept in the stream
	classWord                  // letters (and marks) of scripts written with spaces
	classDigit                 // numbers
	classUnspaced              // CJK, kana, Hangul, Thai, ...: no word boundaries
)

// ascii maps each ASCII byte to its folded form and kind, so that plain
// ASCII text never reaches the Unicode tables.
var ascii = func() (t [utf8.RuneSelf]struct {
	b    byte
	kind kind
	cls  class
}) {
	for c := range utf8.RuneSelf {
		e := &t[c]
		e.b = byte(c)
		switch {
		case 'a' <= c && c <= 'z':
			e.kind, e.cls = kindChar, classWord
		case 'A' <= c && c <= 'Z':
			e.b, e.kind, e.cls = byte(c)+'a'-'A', kindChar, classWord
		case '0' <= c && c <= '9':
			e.kind, e.cls = kindChar, classDigit
		case c == ' ' || ('\t' <= c && c <= '\r'):
			e.kind = kindSpace
		case c < ' ' || c == 0x7f:
			e.kind = kindDrop
		default:
			e.kind = kindPunct
		}
	}
	return t
}()

// unspaced lists the scripts whose words are not separated by spaces.
var unspaced = []*unicode.RangeTable{
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
	unicode.Bopomofo, unicode.Thai, unicode.Lao, unicode.Khmer,
	unicode.Myanmar, unicode.Yi, unicode.Tibetan,
}

// invisible reports whether r is dropped before anything else: format and
// default-ignorable characters (zero-width space and joiners, U+FEFF, soft
// hyphen, bidi controls, variation selectors) and invalid UTF-8.
func invisible(r rune) bool {
	return r == utf8.RuneError || unicode.In(r, unicode.Cf,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// disguise reports whether r is a combining mark that only decorates the
// letter before it (accents, overlays, Zalgo stacks). The Japanese voicing
// marks are not: they tell カ from ガ.
func disguise(r rune) bool {
	if r == 0x3099 || r == 0x309a {
		return false
	}
	if 0x0483 <= r && r <= 0x0489 {
		return true
	}
	return unicode.Is(unicode.Me, r) ||
		(unicode.Is(unicode.Mn, r) && unicode.Is(unicode.Inherited, r))
}

// classify returns the kind and class of a rune that is already decomposed
// and case folded.
func classify(r rune) (kind, class) {
	switch {
	case r < utf8.RuneSelf:
		e := ascii[r]
		return e.kind, e.cls
	case invisible(r) || disguise(r):
		return kindDrop, classOther
	case unicode.IsSpace(r) || unicode.In(r, unicode.Z):
		return kindSpace, classOther
	case unicode.IsNumber(r):
		return kindChar, classDigit
	case r == 0x3099 || r == 0x309a || r == 0x30fc || unicode.In(r, unspaced...):
		return kindChar, classUnspaced
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return kindChar, classWord
	case unicode.Is(unicode.So, r):
		return kindChar, classOther
	}
	return kindPunct, classOther
}

// foldCase applies simple case folding and the look-alike table. It returns
// up to two runes; the second is 0 when unused.
func foldCase(r rune) (rune, rune) {
	f := unicode.ToLower(unicode.ToUpper(r))
	switch f {
	case 'ß':
		return 's', 's'
	case 'æ':
		return 'a', 'e'
	case 'œ':
		return 'o', 'e'
	}
	if l, ok := lookalike[f]; ok {
		return l, 0
	}
	return f, 0
}

// lookalike maps letters that look like Latin letters to them. Both the
// banned words and the text are mapped, so a Cyrillic word still matches
// itself.
var lookalike = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o',
	'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i',
	'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l',
	// Greek
	'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p',
	'τ': 't', 'υ': 'u', 'χ': 'x',
	// Latin letters with strokes, which have no decomposition
	'ø': 'o', 'ł': 'l', 'đ': 'd', 'ħ': 'h', 'ŧ': 't', 'ƀ': 'b', 'ɨ': 'i',
}

// Hangul syllables decompose algorithmically (the norm tables leave them
// out), so that precomposed and conjoining-jamo Korean fold alike.
const (
	hangulBase  = 0xac00
	hangulCount = 11172
	hangulL     = 0x1100
	hangulV     = 0x1161
	hangulT     = 0x11a7
	hangulVT    = 21 * 28
)

// decompose appends the compatibility decomposition (NFKD) of r to dst, or
// r itself when it has none.
func decompose(dst []rune, r rune) []rune {
	if s := r - hangulBase; 0 <= s && s < hangulCount {
		dst = append(dst, hangulL+s/hangulVT, hangulV+s%hangulVT/28)
		if t := s % 28; t != 0 {
			dst = append(dst, hangulT+t)
		}
		return dst
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFKD.Properties(buf[:n]).Decomposition()
	if d == nil {
		return append(dst, r)
	}
	for len(d) > 0 {
		c, size := utf8.DecodeRune(d)
		dst = append(dst, c)
		d = d[size:]
	}
	return dst
}
