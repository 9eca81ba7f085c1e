package exchange

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/api"
)

// A tape is a JSON document read once into a flat list of its values, in
// document order, pointing into the bytes rather than copying them: the
// fast path validates and reads the key from it without building Go
// values (see schema_fast.go).
//
// The reader is also the fast path's strict check, so that a body is
// scanned once rather than by api.CheckJSON first: it accepts a document
// only if api.CheckJSON does (RFC 8259 syntax, no duplicate member names,
// valid UTF-8, no lone surrogate escapes, numbers a double holds, nesting
// at most api.MaxJSONDepth), deciding the common tokens itself and
// handing the rare ones to api itself (a string with escapes, a number
// with an exponent or over 300 characters: api.CheckJSON on the token
// alone, whose rules for a lone token are the same as inside a
// document). When it refuses, the caller takes the full path, where
// api.CheckJSON words the error. FuzzStrictTape holds it to api.CheckJSON
// and api.CheckJSONArray both ways.
type tape struct {
	buf    []byte
	nodes  []jnode
	pretty bool // white space other than spaces between tokens (compact's cue)
	base   int  // the nesting of the value read (1: a batch's element)
}

// jnode is one value on a tape. An object is followed by its members, each
// a key (a string node) and its value; an array by its items.
type jnode struct {
	kind  byte  // '{', '[', '"', '0' (number), 't', 'f', 'n'
	esc   bool  // a string with escapes (decode with str)
	start int32 // a string's first byte after the quote; a number's first byte
	end   int32 // a string's closing quote; a number's end
	next  int32 // index of the node after this value (and everything in it)
	count int32 // members of an object, items of an array
}

var errTape = errors.New("not a JSON document")

var tapes = sync.Pool{New: func() any { return &tape{nodes: make([]jnode, 0, 256)} }}

// readTape reads buf, one strict JSON value, into a pooled tape; release
// it with putTape.
func readTape(buf []byte) (*tape, error) {
	t := tapes.Get().(*tape)
	t.buf, t.nodes, t.pretty, t.base = buf, t.nodes[:0], false, 0
	i, err := t.value(t.skipWS(0), 0)
	if err == nil && t.skipWS(i) != len(buf) {
		err = errTape
	}
	if err != nil {
		putTape(t)
		return nil, err
	}
	return t, nil
}

// readElement reads the value at buf[i] (not white space), an element of
// the top-level array buf, into a pooled tape, and returns the index after
// it. Node offsets are into buf.
func readElement(buf []byte, i int) (*tape, int, error) {
	t := tapes.Get().(*tape)
	t.buf, t.nodes, t.pretty, t.base = buf, t.nodes[:0], false, 1
	end, err := t.value(i, 0)
	if err != nil {
		putTape(t)
		return nil, 0, err
	}
	return t, end, nil
}

// rawValue is the bytes of the value at node 0, quotes included.
func (t *tape) rawValue() []byte {
	n := &t.nodes[0]
	if n.kind == '"' {
		return t.buf[n.start-1 : n.end+1]
	}
	return t.buf[n.start:n.end]
}

func putTape(t *tape) {
	t.buf = nil
	if cap(t.nodes) <= 1<<16 {
		tapes.Put(t)
	}
}

// skipWS skips white space from buf[i], noting line breaks and tabs.
func (t *tape) skipWS(i int) int {
	b := t.buf
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ':
		case '\t', '\n', '\r':
			t.pretty = true
		default:
			return i
		}
	}
	return i
}

// value reads the value at b[i] and returns the index after it.
func (t *tape) value(i int, depth int) (int, error) {
	b := t.buf
	if i >= len(b) {
		return 0, errTape
	}
	at := len(t.nodes)
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth+t.base+1 > api.MaxJSONDepth { // as api.CheckJSON counts
			return 0, errTape
		}
		t.nodes = append(t.nodes, jnode{kind: c, start: int32(i)})
		i = t.skipWS(i + 1)
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		n := int32(0)
		for i < len(b) && b[i] != closer {
			if n > 0 {
				if b[i] != ',' {
					return 0, errTape
				}
				i = t.skipWS(i + 1)
			}
			var err error
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, errTape
				}
				if i, err = t.str(i); err != nil {
					return 0, err
				}
				i = t.skipWS(i)
				if i >= len(b) || b[i] != ':' {
					return 0, errTape
				}
				i = t.skipWS(i + 1)
			}
			if i, err = t.value(i, depth+1); err != nil {
				return 0, err
			}
			i = t.skipWS(i)
			n++
		}
		if i >= len(b) {
			return 0, errTape
		}
		t.nodes[at].count, t.nodes[at].end = n, int32(i+1)
		i++
		if c == '{' && n > 1 && !t.uniqueNames(at) {
			return 0, errTape
		}
	case c == '"':
		var err error
		if i, err = t.str(i); err != nil {
			return 0, err
		}
	case c == 't' || c == 'f' || c == 'n':
		j := i
		for j < len(b) && b[j] >= 'a' && b[j] <= 'z' {
			j++
		}
		if w := string(b[i:j]); w != "true" && w != "false" && w != "null" {
			return 0, errTape
		}
		t.nodes = append(t.nodes, jnode{kind: c, start: int32(i), end: int32(j)})
		i = j
	case c == '-' || c >= '0' && c <= '9':
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		if !plainNumber(b[i:j]) && api.CheckJSON(b[i:j]) != nil {
			return 0, errTape
		}
		t.nodes = append(t.nodes, jnode{kind: '0', start: int32(i), end: int32(j)})
		i = j
	default:
		return 0, errTape
	}
	t.nodes[at].next = int32(len(t.nodes))
	return i, nil
}

// plainNumber reports whether b is a number without an exponent, of at
// most 300 characters: -?(0|[1-9][0-9]*)(.[0-9]+)?, which a double holds
// (api.CheckJSON's rules); false leaves it to api.CheckJSON.
func plainNumber(b []byte) bool {
	if len(b) > 300 {
		return false
	}
	i := 0
	if b[0] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(b)
}

// str reads the string starting at the quote b[i]: no control character,
// valid UTF-8, escapes checked by api.CheckJSON.
func (t *tape) str(i int) (int, error) {
	b := t.buf
	n := jnode{kind: '"', start: int32(i + 1)}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		for j < len(b) && plainByte[b[j]] {
			j++
		}
		if j == len(b) {
			break
		}
		switch c := b[j]; {
		case c == '\\':
			n.esc = true
			j++
		case c == '"':
			switch {
			case n.esc:
				if api.CheckJSON(b[i:j+1]) != nil {
					return 0, errTape
				}
			case !ascii:
				if !utf8.Valid(b[i+1 : j]) {
					return 0, errTape
				}
			}
			n.end, n.next = int32(j), int32(len(t.nodes)+1)
			t.nodes = append(t.nodes, n)
			return j + 1, nil
		case c < 0x20:
			return 0, errTape
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, errTape
}

// plainByte marks the bytes a string holds with nothing to check: ASCII,
// no control character, no quote, no backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// uniqueNames reports whether the object at node obj has no two members
// with equal names (after unescaping).
func (t *tape) uniqueNames(obj int) bool {
	count := int(t.nodes[obj].count)
	var keys [smallNames][]byte
	if count <= smallNames {
		j := obj + 1
		for k := range count {
			n := &t.nodes[j]
			if n.esc {
				return t.uniqueNamesMap(obj)
			}
			name := t.raw(n)
			for _, prev := range keys[:k] {
				if string(prev) == string(name) {
					return false
				}
			}
			keys[k] = name
			j = int(t.nodes[j+1].next)
		}
		return true
	}
	return t.uniqueNamesMap(obj)
}

// smallNames is how many member names uniqueNames compares pairwise.
const smallNames = 16

func (t *tape) uniqueNamesMap(obj int) bool {
	seen := make(map[string]struct{}, t.nodes[obj].count)
	j := obj + 1
	for range t.nodes[obj].count {
		name, ok := t.strValue(&t.nodes[j])
		if !ok {
			return false
		}
		if _, dup := seen[name]; dup {
			return false
		}
		seen[name] = struct{}{}
		j = int(t.nodes[j+1].next)
	}
	return true
}

// raw is a node's bytes: a string's content between its quotes, a
// number's or literal's token.
func (t *tape) raw(n *jnode) []byte { return t.buf[n.start:n.end] }

// str is a string node's value, unescaped.
func (t *tape) strValue(n *jnode) (string, bool) {
	if !n.esc {
		return string(t.raw(n)), true
	}
	var s string
	if err := json.Unmarshal(t.buf[n.start-1:n.end+1], &s); err != nil {
		return "", false
	}
	return s, true
}

// int64Value reads a number node that is an integer of at most 15 digits
// (every such integer is exact in a double and within ±2^53).
func (t *tape) int64Value(n *jnode) (int64, bool) {
	r := t.raw(n)
	digits := len(r)
	if len(r) > 0 && r[0] == '-' {
		digits--
	}
	if digits > 15 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(r), 10, 64)
	return v, err == nil
}

// member finds an object's member by name and returns its value's index.
func (t *tape) member(obj int, name string) (int, bool) {
	j := obj + 1
	for range t.nodes[obj].count {
		k := &t.nodes[j]
		if k.esc {
			if s, ok := t.strValue(k); ok && s == name {
				return j + 1, true
			}
		} else if string(t.raw(k)) == name {
			return j + 1, true
		}
		j = int(t.nodes[j+1].next)
	}
	return 0, false
}

// appendCompact appends the value at node i without white space, as
// compact does: its tokens, joined by the structure's commas and colons.
func (t *tape) appendCompact(out []byte, i int) []byte {
	n := &t.nodes[i]
	switch n.kind {
	case '{', '[':
		out = append(out, n.kind)
		j := i + 1
		for k := range n.count {
			if k > 0 {
				out = append(out, ',')
			}
			if n.kind == '{' {
				key := &t.nodes[j]
				out = append(append(out, t.buf[key.start-1:key.end+1]...), ':')
				j++
			}
			out = t.appendCompact(out, j)
			j = int(t.nodes[j].next)
		}
		if n.kind == '{' {
			return append(out, '}')
		}
		return append(out, ']')
	case '"':
		return append(out, t.buf[n.start-1:n.end+1]...)
	}
	return append(out, t.buf[n.start:n.end]...)
}
