package delivery

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/api"
)

// pointerSet resolves a sink's column pointers (RFC 6901) against the data
// member of a stored CloudEvent straight from its bytes, in one pass and
// without building maps: members no pointer goes through are skipped (but
// validated). It yields each pointer's value as raw JSON text, or nothing
// where the value is missing.
//
// It is the fast path of rowMapper.row and agrees with the encoding/json
// path (rowMapper.rowSlow) wherever it answers: the last of duplicate
// members wins, "data" matches case-insensitively, array indexes parse as
// strconv.Atoi does. Anything it does not handle itself (a document that is
// not a JSON object or not valid JSON, escaped member names, invalid UTF-8
// in them, nesting deeper than maxScanDepth, more than 64 pointers) makes it
// give up, and the caller takes the encoding/json path, which also words
// every error.
type pointerSet struct {
	toks [][]string // per pointer, its reference tokens
	idx  [][]int    // per pointer and token, the array index or -1
}

// maxScanDepth is how deeply nested a document the scanner follows; below
// encoding/json's own limit (10000), so that the slow path judges those.
const maxScanDepth = 1000

// maxPointers is how many pointers a pointerSet resolves (a bit mask each).
const maxPointers = 64

func newPointerSet(pointers []string) *pointerSet {
	ps := &pointerSet{}
	for _, p := range pointers {
		toks := api.PointerTokens(p)
		idx := make([]int, len(toks))
		for i, tok := range toks {
			idx[i] = -1
			if n, err := strconv.Atoi(tok); err == nil && n >= 0 {
				idx[i] = n
			}
		}
		ps.toks = append(ps.toks, toks)
		ps.idx = append(ps.idx, idx)
	}
	return ps
}

// span is a value's place in the document: [start, end), start < 0 when
// missing.
type span struct{ start, end int }

// scanner walks one document.
type scanner struct {
	ps  *pointerSet
	buf []byte
	pos int
	res []span
}

// resolve fills res (one span per pointer) from the document's data member.
// ok is false when the scanner gives up (see pointerSet).
func (ps *pointerSet) resolve(doc []byte, res []span) (ok bool) {
	if len(ps.toks) > maxPointers || len(res) != len(ps.toks) {
		return false
	}
	for i := range res {
		res[i] = span{-1, -1}
	}
	s := scanner{ps: ps, buf: doc, res: res}
	s.ws()
	if s.pos >= len(s.buf) || s.buf[s.pos] != '{' {
		return false
	}
	all := uint64(1)<<len(ps.toks) - 1
	if len(ps.toks) == maxPointers {
		all = ^uint64(0)
	}
	return s.members(all, -1)
}

// isData reports whether key folds to "data", as encoding/json matches
// struct fields.
func isData(key []byte) bool {
	return len(key) == 4 && key[0]|0x20 == 'd' && key[1]|0x20 == 'a' && key[2]|0x20 == 't' && key[3]|0x20 == 'a'
}

// members scans an object at pos ('{') reached by the pointers in active
// after depth tokens; depth -1 is the envelope, whose member "data" every
// pointer goes into.
func (s *scanner) members(active uint64, depth int) bool {
	s.pos++ // '{'
	s.ws()
	if s.peek() == '}' {
		s.pos++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		start := s.pos + 1
		end, plain := s.str()
		if end < 0 || !plain {
			return false
		}
		key := s.buf[start : end-1]
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.ws()
		if !s.member(s.byKey(active, depth, key), depth) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			return true
		default:
			return false
		}
	}
}

// member scans a value reached by the pointers in active after depth
// tokens: it starts their resolution afresh, so a later duplicate member
// overrides an earlier one.
func (s *scanner) member(active uint64, depth int) bool {
	for m := active; m != 0; m &= m - 1 {
		s.res[lowBit(m)] = span{-1, -1}
	}
	return s.value(active, depth+1)
}

// value scans the value at pos, reached by the pointers in active after
// depth tokens.
func (s *scanner) value(active uint64, depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	start := s.pos
	var here, deeper uint64
	for m := active; m != 0; m &= m - 1 {
		if i := lowBit(m); len(s.ps.toks[i]) == depth {
			here |= 1 << i
		} else {
			deeper |= 1 << i
		}
	}
	if !s.skip(deeper, depth) {
		return false
	}
	for m := here; m != 0; m &= m - 1 {
		s.res[lowBit(m)] = span{start, s.pos}
	}
	return true
}

// skip scans the value at pos, resolving the pointers in active within it.
func (s *scanner) skip(active uint64, depth int) bool {
	switch c := s.peek(); {
	case c == '{':
		return s.members(active, depth)
	case c == '[':
		return s.elements(active, depth)
	case c == '"':
		end, _ := s.str()
		return end >= 0
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	default:
		return s.num()
	}
}

// byKey are the pointers in active whose token tok is key (at tok -1, all
// of them if key is the envelope's "data").
func (s *scanner) byKey(active uint64, tok int, key []byte) uint64 {
	if tok < 0 {
		if isData(key) {
			return active
		}
		return 0
	}
	var sub uint64
	for m := active; m != 0; m &= m - 1 {
		if i := lowBit(m); s.ps.toks[i][tok] == string(key) {
			sub |= 1 << i
		}
	}
	return sub
}

// elements scans an array at pos ('[').
func (s *scanner) elements(active uint64, depth int) bool {
	s.pos++ // '['
	s.ws()
	if s.peek() == ']' {
		s.pos++
		return true
	}
	for n := 0; ; n++ {
		var sub uint64
		for m := active; m != 0; m &= m - 1 {
			if i := lowBit(m); s.ps.idx[i][depth] == n {
				sub |= 1 << i
			}
		}
		if !s.member(sub, depth) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			s.ws()
		case ']':
			s.pos++
			return true
		default:
			return false
		}
	}
}

func lowBit(m uint64) int {
	n := 0
	for m&1 == 0 {
		m >>= 1
		n++
	}
	return n
}

func (s *scanner) peek() byte {
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) lit(word string) bool {
	if !bytes.HasPrefix(s.buf[s.pos:], []byte(word)) {
		return false
	}
	s.pos += len(word)
	return true
}

// str scans a string at pos ('"') and returns the index after its closing
// quote (-1 if invalid) and whether it has neither escapes nor invalid
// UTF-8, so that its bytes are its value.
func (s *scanner) str() (end int, plain bool) {
	plain = true
	ascii := true
	i := s.pos + 1
	for ; i < len(s.buf); i++ {
		c := s.buf[i]
		switch {
		case c == '"':
			if !ascii && plain {
				plain = utf8.Valid(s.buf[s.pos+1 : i])
			}
			s.pos = i + 1
			return s.pos, plain
		case c < 0x20:
			return -1, false
		case c >= utf8.RuneSelf:
			ascii = false
		case c == '\\':
			plain = false
			if i++; i >= len(s.buf) {
				return -1, false
			}
			switch s.buf[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.buf) || !isHex(s.buf[i+1:i+5]) {
					return -1, false
				}
				i += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// num scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) num() bool {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.pos++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits scans one or more digits.
func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.buf) && '0' <= s.buf[s.pos] && s.buf[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}
