package wordfilter

import (
	"slices"
	"strings"
)

// Matcher finds banned words in texts. It is immutable after New and safe
// for concurrent use. The zero value and nil match nothing.
type Matcher struct {
	ac       *automaton
	patterns []pattern
}

// pattern is one banned word after folding.
type pattern struct {
	word      string  // the word as given to New
	n         int32   // folded length in runes
	needStart bool    // must start at a word boundary
	needEnd   bool    // must end at a word boundary
	breaks    []int32 // offsets where the word has a separator, ascending
	next      int32   // next pattern with the same folded runes; -1 if none
}

// New builds a Matcher for words. Words that fold to nothing (empty,
// whitespace or punctuation only) are ignored; of words that fold alike,
// the first one is the one Find reports.
func New(words []string) *Matcher {
	m := &Matcher{}
	keys := map[string]int32{} // folded runes → first pattern
	seen := map[string]bool{}  // folded runes and breaks
	st := getStream()
	defer putStream(st)
	for _, w := range words {
		st.reset()
		st.add(w)
		p := newPattern(w, st)
		key := st.key()
		if p.n == 0 || seen[p.id(key)] {
			continue
		}
		seen[p.id(key)] = true
		p.next = -1
		if head, ok := keys[key]; ok {
			for m.patterns[head].next >= 0 {
				head = m.patterns[head].next
			}
			m.patterns[head].next = int32(len(m.patterns))
		} else {
			keys[key] = int32(len(m.patterns))
		}
		m.patterns = append(m.patterns, p)
	}
	m.ac = buildAutomaton(sortedKeys(keys))
	return m
}

// sortedKeys returns the folded keys in order with their first patterns.
func sortedKeys(keys map[string]int32) ([][]rune, []int32) {
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted) // byte order of UTF-8 is rune order
	runes, ends := make([][]rune, len(sorted)), make([]int32, len(sorted))
	for i, k := range sorted {
		runes[i], ends[i] = []rune(k), keys[k]
	}
	return runes, ends
}

func newPattern(word string, st *stream) pattern {
	n := len(st.chars)
	p := pattern{word: word, n: int32(n)}
	if n == 0 {
		return p
	}
	p.needStart = needsBoundary(st.chars[0].cls)
	p.needEnd = needsBoundary(st.chars[n-1].cls)
	for k := 1; k < n; k++ {
		if st.chars[k].gap != gapNone {
			p.breaks = append(p.breaks, int32(k))
		}
	}
	return p
}

// id identifies the folded word: its runes and where it has separators.
func (p *pattern) id(key string) string {
	var b strings.Builder
	b.WriteString(key)
	for _, k := range p.breaks {
		b.WriteByte(0)
		b.WriteRune(rune(k))
	}
	return b.String()
}

func needsBoundary(c class) bool { return c == classWord || c == classDigit }

// Find reports the first banned word found in text (the one whose match
// ends first, the longest of those), as it was given to New.
func (m *Matcher) Find(text string) (word string, ok bool) {
	if m == nil || m.ac == nil || len(m.patterns) == 0 {
		return "", false
	}
	st := getStream()
	defer putStream(st)
	st.add(text)
	st.finish()
	return m.scan(st)
}

// scan runs the automaton over st and checks each candidate match against
// the boundaries of the text.
func (m *Matcher) scan(st *stream) (string, bool) {
	a := m.ac
	s := int32(0)
	for j, c := range st.chars {
		s = a.next(s, c.r)
		for t := a.states[s].report; t >= 0; t = a.states[a.states[t].fail].report {
			for p := a.states[t].pattern; p >= 0; p = m.patterns[p].next {
				if m.patterns[p].fits(st, j+1) {
					return m.patterns[p].word, true
				}
			}
		}
	}
	return "", false
}

// fits reports whether p, found in st ending at end, respects the word
// boundaries and separators of the text.
func (p *pattern) fits(st *stream, end int) bool {
	start := end - int(p.n)
	if p.needStart && st.flags(start)&flagBoundary == 0 ||
		p.needEnd && st.flags(end)&flagBoundary == 0 {
		return false
	}
	b := 0
	for k := start + 1; k < end; k++ {
		if st.chars[k].flags&flagHard == 0 {
			continue
		}
		off := int32(k - start)
		for b < len(p.breaks) && p.breaks[b] < off {
			b++
		}
		if b == len(p.breaks) || p.breaks[b] != off {
			return false
		}
	}
	return true
}

// Len returns the number of distinct banned words.
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	return len(m.patterns)
}
