package api

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Strict JSON is the profile every body, payload and document that comes
// from outside must follow before anything decodes it: I-JSON (RFC 7493).
// A parser that keeps the first of two equal member names and one that
// keeps the last read different documents from the same bytes, and a
// number that no double can hold turns into an infinity or an error far
// from where it came in; so the bytes are refused at the door instead.
//
// The rules, on top of RFC 8259 syntax (which encoding/json already
// enforces):
//   - no object has two members whose names are equal after unescaping
//     ("a" and "\u0061" are the same name);
//   - every number fits an IEEE 754 double: 1e309 and -1e999 (overflow)
//     are refused, so is 1e-400 (a non-zero number read as zero), and so
//     is any written exponent beyond ±999 (0e99999), which no double needs;
//   - strings are valid UTF-8 and escapes encode no lone surrogate
//     (encoding/json would silently turn both into U+FFFD, so the bytes
//     stored and the text validated would differ);
//   - one value, nesting at most MaxJSONDepth deep, nothing after it but
//     white space.
//
// Integers beyond ±2^53, which a double cannot hold exactly, are refused
// where a schema says "integer" (see exchange's schema vocabulary); here
// the document's shape is unknown.

// MaxJSONDepth is the deepest nesting accepted. encoding/json allows
// 10,000, but every recursive decoder after this check (encoding/json into
// any, the schema validator) spends about half a KiB of goroutine stack per
// level: a 20 KB body of brackets would cost 4 MB. 128 levels is far
// beyond any event or request stadion takes, and costs under 64 KiB.
const MaxJSONDepth = 128

// Why a document is not strict JSON; test with errors.Is on a *JSONError.
var (
	ErrJSONSyntax       = errors.New("invalid JSON")
	ErrJSONDuplicateKey = errors.New("duplicate member name")
	ErrJSONNumberRange  = errors.New("number out of the range of an IEEE 754 double")
	ErrJSONInvalidUTF8  = errors.New("string is not valid UTF-8")
	ErrJSONTooDeep      = errors.New("nesting too deep")
)

// JSONError says where a document breaks the strict rules.
type JSONError struct {
	Pointer string // JSON pointer (RFC 6901) of the value in error, "" for the root
	Offset  int    // byte offset of the error
	Err     error  // one of the ErrJSON sentinels
	Detail  string // what exactly, e.g. `"conditions" appears twice`
}

func (e *JSONError) Error() string {
	where := e.Pointer
	if where == "" {
		where = "the root"
	}
	msg := e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return fmt.Sprintf("%s at %s (byte %d)", msg, where, e.Offset)
}

func (e *JSONError) Unwrap() error { return e.Err }

// CheckJSON reports whether data is exactly one strict JSON value. It
// makes one pass over the bytes and allocates only for escaped member
// names, objects with many members and the error. The error is a
// *JSONError.
func CheckJSON(data []byte) error {
	s := scanners.Get().(*scanner)
	defer s.release()
	s.data = data
	s.skipSpace()
	if err := s.value(0); err != nil {
		return err
	}
	s.skipSpace()
	if s.i < len(s.data) {
		return s.fail(ErrJSONSyntax, "unexpected data after the value")
	}
	return nil
}

// CheckJSONArray is CheckJSON for a document that must be an array (a
// batch): in the same pass it returns every element's bytes, slices of
// data without surrounding white space, so that the caller need not scan
// the document again to split it.
func CheckJSONArray(data []byte) ([][]byte, error) {
	s := scanners.Get().(*scanner)
	defer s.release()
	s.data, s.collect = data, true
	s.skipSpace()
	if s.i >= len(s.data) || s.data[s.i] != '[' {
		return nil, s.fail(ErrJSONSyntax, "expected an array")
	}
	if err := s.value(0); err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.i < len(s.data) {
		return nil, s.fail(ErrJSONSyntax, "unexpected data after the value")
	}
	if s.elems == nil {
		return [][]byte{}, nil
	}
	return s.elems, nil
}

// scanners keeps the path and name stacks of finished checks, so that a
// check allocates nothing in the common case.
var scanners = sync.Pool{New: func() any { return new(scanner) }}

func (s *scanner) release() {
	if cap(s.keys) > 64 || cap(s.path) > 64 {
		return // a deep document's stacks are not worth keeping, nor clearing
	}
	clear(s.keys[:cap(s.keys)]) // no reference to the document is kept
	clear(s.path[:cap(s.path)])
	*s = scanner{keys: s.keys[:0], path: s.path[:0]} // elems belong to the caller
	scanners.Put(s)
}

// scanner is a recursive-descent validator. path holds, for every
// container the scanner is inside, the member name (already unescaped) or
// the array index, so that an error can name its pointer.
type scanner struct {
	data []byte
	i    int
	path []pathElem
	keys [][]byte // member names of the open objects, innermost last

	collect bool     // record the elements of the top-level array
	elems   [][]byte // ... here
}

type pathElem struct {
	key   []byte
	index int // -1 for an object member
}

// smallObject is how many members an object may have before its names go
// into a map; below it a linear scan is cheaper than hashing.
const smallObject = 16

func (s *scanner) value(depth int) error {
	if s.i >= len(s.data) {
		return s.fail(ErrJSONSyntax, "unexpected end of the document")
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.fail(ErrJSONSyntax, fmt.Sprintf("unexpected %s", quoteByte(c)))
	}
}

func (s *scanner) object(depth int) error {
	if depth > MaxJSONDepth {
		return s.fail(ErrJSONTooDeep, fmt.Sprintf("more than %d levels", MaxJSONDepth))
	}
	s.i++ // {
	s.skipSpace()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil
	}
	base := len(s.keys)
	var seen map[string]struct{}
	defer func() { s.keys = s.keys[:base] }()
	for {
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return s.fail(ErrJSONSyntax, "expected a member name")
		}
		start := s.i
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		name := raw
		if escaped {
			name = unescape(raw)
		}
		if dup := s.addKey(base, name, &seen); dup {
			s.path = append(s.path, pathElem{key: name, index: -1})
			s.i = start
			return s.fail(ErrJSONDuplicateKey, fmt.Sprintf("%s appears twice", quoteName(name)))
		}
		s.skipSpace()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return s.fail(ErrJSONSyntax, "expected ':' after a member name")
		}
		s.i++
		s.skipSpace()
		s.path = append(s.path, pathElem{key: name, index: -1})
		if err := s.value(depth); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.skipSpace()
		if s.i >= len(s.data) {
			return s.fail(ErrJSONSyntax, "unexpected end inside an object")
		}
		switch s.data[s.i] {
		case ',':
			s.i++
			s.skipSpace()
		case '}':
			s.i++
			return nil
		default:
			return s.fail(ErrJSONSyntax, "expected ',' or '}' after a member")
		}
	}
}

// addKey records a member name of the object whose names start at base,
// and reports whether the object already had it.
func (s *scanner) addKey(base int, name []byte, seen *map[string]struct{}) bool {
	if *seen != nil {
		if _, ok := (*seen)[string(name)]; ok {
			return true
		}
		(*seen)[string(name)] = struct{}{}
		return false
	}
	for _, k := range s.keys[base:] {
		if string(k) == string(name) {
			return true
		}
	}
	s.keys = append(s.keys, name)
	if len(s.keys)-base > smallObject {
		m := make(map[string]struct{}, 2*smallObject)
		for _, k := range s.keys[base:] {
			m[string(k)] = struct{}{}
		}
		*seen = m
	}
	return false
}

func (s *scanner) array(depth int) error {
	if depth > MaxJSONDepth {
		return s.fail(ErrJSONTooDeep, fmt.Sprintf("more than %d levels", MaxJSONDepth))
	}
	s.i++ // [
	s.skipSpace()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil
	}
	s.path = append(s.path, pathElem{index: 0})
	at := len(s.path) - 1
	top := s.collect && depth == 1
	for {
		start := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if top {
			s.elems = append(s.elems, s.data[start:s.i])
		}
		s.skipSpace()
		if s.i >= len(s.data) {
			return s.fail(ErrJSONSyntax, "unexpected end inside an array")
		}
		switch s.data[s.i] {
		case ',':
			s.i++
			s.skipSpace()
			s.path[at].index++
		case ']':
			s.i++
			s.path = s.path[:at]
			return nil
		default:
			return s.fail(ErrJSONSyntax, "expected ',' or ']' after an element")
		}
	}
}

// str scans a string at s.i and returns its content between the quotes,
// and whether it holds escapes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	s.i++ // "
	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			raw = s.data[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return nil, false, err
			}
		case c < 0x20:
			return nil, false, s.fail(ErrJSONSyntax, "control character in a string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.data[s.i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, s.fail(ErrJSONInvalidUTF8, "")
			}
			s.i += size
		}
	}
	return nil, false, s.fail(ErrJSONSyntax, "unterminated string")
}

// escape checks one escape sequence at s.i; a \u escape of a high
// surrogate must be followed by one of a low surrogate.
func (s *scanner) escape() error {
	if s.i+1 >= len(s.data) {
		return s.fail(ErrJSONSyntax, "unterminated string")
	}
	switch s.data[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return nil
	case 'u':
	default:
		return s.fail(ErrJSONSyntax, "invalid escape")
	}
	r, ok := hex4(s.data, s.i+2)
	if !ok {
		return s.fail(ErrJSONSyntax, `invalid \u escape`)
	}
	switch {
	case r >= 0xdc00 && r <= 0xdfff:
		return s.fail(ErrJSONInvalidUTF8, "lone low surrogate escape")
	case r >= 0xd800 && r <= 0xdbff:
		lo, ok := -1, s.i+7 < len(s.data) && s.data[s.i+6] == '\\' && s.data[s.i+7] == 'u'
		if ok {
			lo, ok = hex4(s.data, s.i+8)
		}
		if !ok || lo < 0xdc00 || lo > 0xdfff {
			return s.fail(ErrJSONInvalidUTF8, "lone high surrogate escape")
		}
		s.i += 12
	default:
		s.i += 6
	}
	return nil
}

func hex4(b []byte, at int) (int, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	r := 0
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | int(c)
	}
	return r, true
}

// number scans a number. One that could be beyond a double's range (an
// exponent, or more than 300 digits) is parsed to make sure it is not: it
// must neither overflow to an infinity nor, being non-zero, underflow to
// zero. A written exponent beyond ±999 is refused outright: no double
// needs one, and big-number arithmetic on it (schema validators use
// math/big) costs milliseconds per number.
func (s *scanner) number() error {
	start := s.i
	nonzero := false
	if s.data[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.data) && s.data[s.i] == '0':
		s.i++
	case s.i < len(s.data) && s.data[s.i] >= '1' && s.data[s.i] <= '9':
		s.digits(&nonzero)
	default:
		return s.fail(ErrJSONSyntax, "invalid number")
	}
	if s.i < len(s.data) && s.data[s.i] == '.' {
		s.i++
		if s.digits(&nonzero) == 0 {
			return s.fail(ErrJSONSyntax, "invalid number")
		}
	}
	exp := false
	if s.i < len(s.data) && (s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		exp = true
		s.i++
		if s.i < len(s.data) && (s.data[s.i] == '+' || s.data[s.i] == '-') {
			s.i++
		}
		for s.i < len(s.data)-1 && s.data[s.i] == '0' && isDigit(s.data[s.i+1]) {
			s.i++ // leading zeros of the exponent
		}
		var ignored bool
		switch n := s.digits(&ignored); {
		case n == 0:
			return s.fail(ErrJSONSyntax, "invalid number")
		case n > 3:
			s.i = start
			return s.fail(ErrJSONNumberRange, "exponent beyond ±999")
		}
	}
	if exp || s.i-start > 300 {
		f, _ := strconv.ParseFloat(string(s.data[start:s.i]), 64)
		switch {
		case math.IsInf(f, 0):
			s.i = start
			return s.fail(ErrJSONNumberRange, "overflows a double")
		case f == 0 && nonzero:
			s.i = start
			return s.fail(ErrJSONNumberRange, "underflows a double to zero")
		}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits scans a run of digits, noting whether one is not zero.
func (s *scanner) digits(nonzero *bool) int {
	n := 0
	for s.i < len(s.data) && isDigit(s.data[s.i]) {
		if s.data[s.i] != '0' {
			*nonzero = true
		}
		s.i++
		n++
	}
	return n
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return s.fail(ErrJSONSyntax, "invalid literal")
	}
	s.i += len(word)
	return nil
}

func (s *scanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) fail(err error, detail string) *JSONError {
	return &JSONError{Pointer: s.pointer(), Offset: s.i, Err: err, Detail: detail}
}

func (s *scanner) pointer() string {
	var b strings.Builder
	for _, e := range s.path {
		b.WriteByte('/')
		if e.index >= 0 {
			b.WriteString(strconv.Itoa(e.index))
			continue
		}
		b.WriteString(PointerToken(string(e.key)))
	}
	return b.String()
}

// PointerTokens splits a JSON pointer (RFC 6901) into its reference
// tokens, unescaped; the empty pointer (the whole document) has none.
func PointerTokens(pointer string) []string {
	if pointer == "" {
		return nil
	}
	toks := strings.Split(pointer[1:], "/")
	for i, tok := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return toks
}

// PointerToken escapes a member name for a JSON pointer (RFC 6901).
func PointerToken(name string) string {
	if !strings.ContainsAny(name, "~/") {
		return name
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
}

// unescape decodes the content of a string the scanner has checked.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			out = append(out, raw[i])
			i++
			continue
		}
		switch c := raw[i+1]; c {
		case 'u':
			r, _ := hex4(raw, i+2)
			i += 6
			if r >= 0xd800 && r <= 0xdbff {
				lo, _ := hex4(raw, i+2)
				r = int(utf16.DecodeRune(rune(r), rune(lo)))
				i += 6
			}
			out = utf8.AppendRune(out, rune(r))
			continue
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default: // " \ /
			out = append(out, c)
		}
		i += 2
	}
	return out
}

// quoteName quotes a member name for a message, cut to a readable length.
func quoteName(name []byte) string {
	const max = 64
	if len(name) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return strconv.Quote(string(name[:cut])) + "…"
	}
	return strconv.Quote(string(name))
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
