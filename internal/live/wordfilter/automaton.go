package wordfilter

import (
	"slices"
	"unicode/utf8"
)

// automaton is an Aho–Corasick automaton over folded runes: a trie of the
// banned words with failure links, stored flat for cache-friendly scans.
type automaton struct {
	states []state
	edges  []edge // the edges of each state, sorted by rune
	root   [utf8.RuneSelf]int32
}

type state struct {
	first, count int32 // edges[first : first+count]
	fail         int32 // longest proper suffix of this state that is a state
	report       int32 // this state or the nearest one on the fail chain where a word ends; -1 if none
	pattern      int32 // first pattern ending here; -1 if none
}

type edge struct {
	r  rune
	to int32
}

// buildAutomaton builds the automaton of keys, which must be sorted;
// ends[i] is the pattern of keys[i].
func buildAutomaton(keys [][]rune, ends []int32) *automaton {
	kids, pattern := buildTrie(keys, ends)
	a := &automaton{states: make([]state, len(kids))}
	for i, ks := range kids {
		a.states[i] = state{first: int32(len(a.edges)), count: int32(len(ks)), pattern: pattern[i], report: -1}
		a.edges = append(a.edges, ks...)
	}
	for _, e := range kids[0] {
		if e.r < utf8.RuneSelf {
			a.root[e.r] = e.to
		}
	}
	a.link()
	return a
}

// buildTrie builds the trie of the sorted keys. Because they are sorted, a
// new edge always sorts after the existing edges of its state.
func buildTrie(keys [][]rune, ends []int32) (kids [][]edge, pattern []int32) {
	kids, pattern = [][]edge{nil}, []int32{-1}
	path := []int32{0} // states of the previous key
	var prev []rune
	for i, key := range keys {
		lcp := 0
		for lcp < len(key) && lcp < len(prev) && key[lcp] == prev[lcp] {
			lcp++
		}
		path = path[:lcp+1]
		for _, r := range key[lcp:] {
			s := path[len(path)-1]
			t := int32(len(kids))
			kids, pattern = append(kids, nil), append(pattern, -1)
			kids[s] = append(kids[s], edge{r, t})
			path = append(path, t)
		}
		if end := path[len(path)-1]; pattern[end] < 0 {
			pattern[end] = ends[i]
		}
		prev = key
	}
	return kids, pattern
}

// link computes failure and report links breadth-first.
func (a *automaton) link() {
	queue := make([]int32, 0, len(a.states))
	for _, e := range a.kids(0) {
		a.states[e.to].fail = 0
		queue = append(queue, e.to)
	}
	for i := 0; i < len(queue); i++ {
		u := queue[i]
		st := &a.states[u]
		st.report = a.states[st.fail].report
		if st.pattern >= 0 {
			st.report = u
		}
		for _, e := range a.kids(u) {
			a.states[e.to].fail = a.next(st.fail, e.r)
			queue = append(queue, e.to)
		}
	}
}

func (a *automaton) kids(s int32) []edge {
	st := &a.states[s]
	return a.edges[st.first : st.first+st.count]
}

// child returns the state reached from s by r, or -1.
func (a *automaton) child(s int32, r rune) int32 {
	es := a.kids(s)
	if len(es) <= 8 {
		for _, e := range es {
			if e.r >= r {
				if e.r == r {
					return e.to
				}
				break
			}
		}
		return -1
	}
	if i, ok := slices.BinarySearchFunc(es, r, func(e edge, r rune) int { return int(e.r - r) }); ok {
		return es[i].to
	}
	return -1
}

// next returns the state after reading r in state s.
func (a *automaton) next(s int32, r rune) int32 {
	for s != 0 {
		if t := a.child(s, r); t >= 0 {
			return t
		}
		s = a.states[s].fail
	}
	if r < utf8.RuneSelf {
		return a.root[r]
	}
	return max(a.child(0, r), 0)
}
