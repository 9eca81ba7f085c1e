package exchange

import (
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Validation on a tape by a compiled fastSchema (schema_fast.go).

// maxCheckDepth bounds the schemas applied to one value through
// references (a schema may refer to itself).
const maxCheckDepth = 256

// check validates the value at node i of tp.
func (fs *fastSchema) check(tp *tape, i int) verdict { return fs.checkAt(tp, i, 0) }

func (fs *fastSchema) checkAt(tp *tape, i, depth int) verdict {
	if depth > maxCheckDepth || fs.ref != "" && fs.refTo == nil {
		return vUnsure
	}
	depth++
	if fs.bool != nil {
		if *fs.bool {
			return vYes
		}
		return vNo
	}
	n := &tp.nodes[i]
	v := fs.checkType(tp, n)
	if v == vNo {
		return vNo
	}
	switch n.kind {
	case '{':
		v = v.and(fs.checkObject(tp, i, depth))
	case '[':
		v = v.and(fs.checkArray(tp, i, depth))
	case '"':
		v = v.and(fs.checkString(tp, n))
	case '0':
		v = v.and(fs.checkNumber(tp, n))
	}
	if fs.hasEnum {
		v = v.and(fs.checkEnum(tp, n))
	}
	if fs.refTo != nil {
		v = v.and(fs.refTo.checkAt(tp, i, depth))
	}
	for _, s := range fs.allOf {
		v = v.and(s.checkAt(tp, i, depth))
	}
	if fs.ifS != nil {
		switch fs.ifS.checkAt(tp, i, depth) {
		case vYes:
			if fs.thenS != nil {
				v = v.and(fs.thenS.checkAt(tp, i, depth))
			}
		case vNo:
			if fs.elseS != nil {
				v = v.and(fs.elseS.checkAt(tp, i, depth))
			}
		default:
			v = v.and(vUnsure)
		}
	}
	return v
}

func (fs *fastSchema) checkType(tp *tape, n *jnode) verdict {
	if fs.types == 0 {
		return vYes
	}
	var bit uint8
	switch n.kind {
	case '{':
		bit = tObject
	case '[':
		bit = tArray
	case '"':
		bit = tString
	case 't', 'f':
		bit = tBoolean
	case 'n':
		bit = tNull
	case '0':
		if fs.types&tNumber != 0 {
			return vYes
		}
		if _, ok := tp.int64Value(n); ok {
			bit = tInteger
		} else if fs.types&tInteger != 0 {
			return vUnsure // 1.0 and 1e2 are integers; beyond 15 digits, ±2^53 decides
		} else {
			return vNo
		}
	}
	if fs.types&bit != 0 {
		return vYes
	}
	return vNo
}

func (fs *fastSchema) checkObject(tp *tape, i, depth int) verdict {
	v := vYes
	obj := &tp.nodes[i]
	if fs.minProps >= 0 && int(obj.count) < fs.minProps || fs.maxProps >= 0 && int(obj.count) > fs.maxProps {
		return vNo
	}
	if fs.reqMask == 0 { // more than 64 required names
		for _, name := range fs.required {
			if _, ok := tp.member(i, name); !ok {
				return vNo
			}
		}
	}
	if len(fs.names) == 0 && fs.addl == nil {
		return v
	}
	// One pass over the members: each name's schema, and the required
	// names seen (the tape holds no name twice: the strict check).
	var seen uint64
	j := i + 1
	for range obj.count {
		key := &tp.nodes[j]
		var k int
		if key.esc {
			name, good := tp.strValue(key)
			if !good {
				return vUnsure
			}
			k = fs.name(name)
		} else {
			k = fs.nameBytes(tp.raw(key))
		}
		sub := fs.addl
		if k >= 0 {
			seen |= fs.names[k].bit
			if fs.names[k].inProps {
				sub = fs.names[k].sub
			}
		}
		if sub != nil {
			if v = v.and(sub.checkAt(tp, j+1, depth)); v == vNo {
				return vNo
			}
		}
		j = int(tp.nodes[j+1].next)
	}
	if seen != fs.reqMask && fs.reqMask != 0 {
		return vNo
	}
	return v
}

func (fs *fastSchema) checkArray(tp *tape, i, depth int) verdict {
	arr := &tp.nodes[i]
	if fs.minItems >= 0 && int(arr.count) < fs.minItems || fs.maxItems >= 0 && int(arr.count) > fs.maxItems {
		return vNo
	}
	v := vYes
	if fs.items != nil {
		for j := i + 1; j < int(arr.next); j = int(tp.nodes[j].next) {
			if v = v.and(fs.items.checkAt(tp, j, depth)); v == vNo {
				return vNo
			}
		}
	}
	if fs.unique {
		v = v.and(uniqueItems(tp, i))
	}
	return v
}

// uniqueItems decides arrays of escape-free strings, integers, booleans
// and nulls exactly; anything else is unsure.
func uniqueItems(tp *tape, i int) verdict {
	seen := map[string]bool{}
	for j := i + 1; j < int(tp.nodes[i].next); j = int(tp.nodes[j].next) {
		n := &tp.nodes[j]
		var k string
		switch n.kind {
		case '"':
			if n.esc {
				return vUnsure
			}
			k = "s" + string(tp.raw(n))
		case '0':
			iv, ok := tp.int64Value(n)
			if !ok {
				return vUnsure
			}
			k = "i" + strconv.FormatInt(iv, 10)
		case 't', 'f', 'n':
			k = string(n.kind)
		default:
			return vUnsure
		}
		if seen[k] {
			return vNo
		}
		seen[k] = true
	}
	return vYes
}

func (fs *fastSchema) checkString(tp *tape, n *jnode) verdict {
	if fs.minLen < 0 && fs.maxLen < 0 && fs.pattern == nil && fs.format == nil {
		return vYes
	}
	raw := tp.raw(n)
	var s string
	if n.esc {
		var ok bool
		if s, ok = tp.strValue(n); !ok {
			return vUnsure
		}
		raw = []byte(s)
	}
	if fs.minLen >= 0 || fs.maxLen >= 0 {
		l := utf8.RuneCount(raw)
		if fs.minLen >= 0 && l < fs.minLen || fs.maxLen >= 0 && l > fs.maxLen {
			return vNo
		}
	}
	if fs.pattern != nil && !fs.pattern.match(raw) {
		return vNo
	}
	if fs.format != nil {
		if !fs.format.valid(raw, s, n.esc) {
			return vNo
		}
	}
	return vYes
}

func (fs *fastSchema) checkNumber(tp *tape, n *jnode) verdict {
	if len(fs.bounds) == 0 {
		return vYes
	}
	if iv, ok := tp.int64Value(n); ok {
		if fs.lo != nil && iv < *fs.lo || fs.hi != nil && iv > *fs.hi {
			return vNo
		}
		return vYes
	}
	// Any other number, exactly (api.CheckJSON bounds exponents to ±999).
	r, ok := new(big.Rat).SetString(string(tp.raw(n)))
	if !ok {
		return vUnsure
	}
	for _, b := range fs.bounds {
		c := r.Cmp(b.r)
		if c != b.want && !(b.or && c == 0) {
			return vNo
		}
	}
	return vYes
}

func (fs *fastSchema) checkEnum(tp *tape, n *jnode) verdict {
	var raw []byte
	var iv int64
	switch n.kind {
	case '"':
		raw = tp.raw(n)
		if n.esc {
			s, ok := tp.strValue(n)
			if !ok {
				return vUnsure
			}
			raw = []byte(s)
		}
	case '0':
		var ok bool
		if iv, ok = tp.int64Value(n); !ok {
			for _, e := range fs.enum {
				if e.kind == '0' {
					return vUnsure // 1.0 equals 1
				}
			}
			return vNo
		}
	}
	for _, e := range fs.enum {
		if e.kind != n.kind {
			continue
		}
		switch e.kind {
		case '"':
			if string(raw) == e.s {
				return vYes
			}
		case '0':
			if e.i == iv {
				return vYes
			}
		default:
			return vYes // true, false, null
		}
	}
	return vNo
}
