package exchange

import (
	"regexp"
	"regexp/syntax"
)

// A schema's pattern without the regexp engine, where that is provably
// the same. The library matches a pattern with Go's regexp, unanchored
// (regexp.Compile(p).MatchString); most patterns of an event schema are
// anchored runs of ASCII classes with counts (^[A-Z]{3}[0-9]{4}$), which
// a byte loop decides in a few nanoseconds without the engine's setup.
//
// compileBytePattern accepts only what it can decide exactly:
//   - ^ at the start and $ at the end (as Go parses them without flags:
//     the start and the end of the text), with nothing unanchored;
//   - in between, a concatenation of ASCII literals and ASCII character
//     classes, each with a count (?, *, +, {n}, {n,m}, {n,}), and
//     non-capturing groups of the same, repeated or not; or one top-level
//     alternation of such sequences (^(?:A|B)$ matches iff ^A$ or ^B$);
//   - and only when matching greedily without backtracking is exact:
//     every variable count must be followed by something that cannot
//     start with a byte its body can start with (or by the end).
//
// Anything else (non-ASCII, case folding, captures, . , \b, multi-line
// anchors, nested alternation, an ambiguous count) returns nil and the
// schema keeps the regexp. A byte of a multi-byte UTF-8 character never
// matches an ASCII class, nor does the regexp's rune, so matching bytes
// is exact on any input. Tests and a fuzz target hold the two to this.
type bytePattern struct {
	alts [][]pelem // the string matches iff one sequence matches it whole
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) has(c byte) bool     { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) add(c byte)          { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) or(t byteSet)        { s[0], s[1], s[2], s[3] = s[0]|t[0], s[1]|t[1], s[2]|t[2], s[3]|t[3] }
func (s byteSet) meets(t byteSet) bool { return s[0]&t[0]|s[1]&t[1]|s[2]&t[2]|s[3]&t[3] != 0 }

// pelem is one element of a sequence: a byte class or a group, repeated
// min to max times (max -1: no limit).
type pelem struct {
	first    byteSet // the class, or the bytes the group can start with
	group    []pelem // nil for a class
	min, max int
}

// compileBytePattern compiles expr (already accepted by regexp.Compile)
// into a byte matcher, or returns nil.
func compileBytePattern(expr string) *bytePattern {
	re, err := syntax.Parse(expr, syntax.Perl) // as regexp.Compile parses
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil
	}
	middle := subs[1 : len(subs)-1]
	branches := [][]*syntax.Regexp{middle}
	if len(middle) == 1 && middle[0].Op == syntax.OpAlternate {
		branches = branches[:0]
		for _, b := range middle[0].Sub {
			branches = append(branches, []*syntax.Regexp{b})
		}
	}
	p := &bytePattern{}
	for _, b := range branches {
		seq, ok := compileSeq(b, 0)
		if !ok || !deterministic(seq, byteSet{}) {
			return nil
		}
		p.alts = append(p.alts, seq)
	}
	return p
}

// compileSeq compiles a concatenation into elements.
func compileSeq(res []*syntax.Regexp, depth int) ([]pelem, bool) {
	if depth > 16 {
		return nil, false
	}
	var seq []pelem
	for _, re := range res {
		switch re.Op {
		case syntax.OpEmptyMatch:
		case syntax.OpConcat:
			sub, ok := compileSeq(re.Sub, depth+1)
			if !ok {
				return nil, false
			}
			seq = append(seq, sub...)
		case syntax.OpLiteral, syntax.OpCharClass:
			sub, ok := compileAtom(re)
			if !ok {
				return nil, false
			}
			seq = append(seq, sub...)
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
			lo, hi := 0, -1
			switch re.Op {
			case syntax.OpPlus:
				lo = 1
			case syntax.OpQuest:
				hi = 1
			case syntax.OpRepeat:
				lo, hi = re.Min, re.Max
			}
			if hi == 0 {
				continue // x{0} matches the empty string
			}
			body := re.Sub[0]
			var e pelem
			if one, ok := compileAtom(body); ok && len(one) == 1 {
				e = one[0]
			} else {
				group, ok := compileSeq([]*syntax.Regexp{body}, depth+1)
				if !ok || nullable(group) {
					return nil, false
				}
				e = pelem{first: firstOf(group, byteSet{}), group: group}
			}
			e.min, e.max = lo, hi
			seq = append(seq, e)
		default:
			return nil, false
		}
	}
	return seq, true
}

// compileAtom compiles an ASCII literal or class to one element per byte.
func compileAtom(re *syntax.Regexp) ([]pelem, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		seq := make([]pelem, 0, len(re.Rune))
		for _, r := range re.Rune {
			if r < 0 || r >= 0x80 {
				return nil, false
			}
			e := pelem{min: 1, max: 1}
			e.first.add(byte(r))
			seq = append(seq, e)
		}
		return seq, true
	case syntax.OpCharClass:
		e := pelem{min: 1, max: 1}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo < 0 || hi >= 0x80 || lo > hi {
				return nil, false
			}
			for c := lo; c <= hi; c++ {
				e.first.add(byte(c))
			}
		}
		return []pelem{e}, true
	}
	return nil, false
}

func nullable(seq []pelem) bool {
	for _, e := range seq {
		if e.min > 0 {
			return false
		}
	}
	return true
}

// firstOf is the bytes seq can start with, and follow's if seq can be empty.
func firstOf(seq []pelem, follow byteSet) byteSet {
	var s byteSet
	for _, e := range seq {
		s.or(e.first)
		if e.min > 0 {
			return s
		}
	}
	s.or(follow)
	return s
}

// deterministic reports whether greedy matching of seq, followed by
// something starting with a byte in follow (or by the end), never needs to
// take back a choice: at every variable count the next byte alone says
// whether the body goes on.
func deterministic(seq []pelem, follow byteSet) bool {
	for i, e := range seq {
		after := firstOf(seq[i+1:], follow)
		if e.min != e.max && e.first.meets(after) {
			return false
		}
		if e.group != nil {
			inner := after
			if e.max != 1 {
				inner.or(e.first)
			}
			if !deterministic(e.group, inner) {
				return false
			}
		}
	}
	return true
}

// match reports whether s matches the pattern.
func (p *bytePattern) match(s []byte) bool {
	for _, seq := range p.alts {
		if j, ok := matchSeq(seq, s, 0); ok && j == len(s) {
			return true
		}
	}
	return false
}

func matchSeq(seq []pelem, s []byte, i int) (int, bool) {
	for k := range seq {
		e := &seq[k]
		for n := 0; e.max < 0 || n < e.max; n++ {
			more := i < len(s) && e.first.has(s[i])
			if n >= e.min && !more {
				break
			}
			if e.group == nil {
				if !more {
					return i, false
				}
				i++
				continue
			}
			var ok bool
			if i, ok = matchSeq(e.group, s, i); !ok {
				return i, false
			}
		}
	}
	return i, true
}

// schemaPattern is a pattern keyword: the regexp the library uses, and the
// byte matcher where one is exact.
type schemaPattern struct {
	re   *regexp.Regexp
	fast *bytePattern
}

func compileSchemaPattern(expr string) (*schemaPattern, error) {
	re, err := regexp.Compile(expr) // the library's default engine
	if err != nil {
		return nil, err
	}
	return &schemaPattern{re: re, fast: compileBytePattern(expr)}, nil
}

func (p *schemaPattern) match(s []byte) bool {
	if p.fast != nil {
		return p.fast.match(s)
	}
	return p.re.Match(s)
}
