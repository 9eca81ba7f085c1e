package wordfilter

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// seedTexts adds the texts of the table tests to the fuzz corpus.
func seedTexts(f *testing.F) {
	for _, tt := range findTests {
		f.Add(tt.text)
	}
	for _, w := range banned {
		f.Add(w)
	}
	f.Add("ｶﾞ\u0301\u3099ｷ 각\u1100\u1161 ¨ ½ ⑴ İı ſ ǅ")
}

func FuzzNormalize(f *testing.F) {
	seedTexts(f)
	m := New(banned)
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q, not valid UTF-8", s, n)
		}
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that = %q", s, n, again)
		}
		w1, ok1 := m.Find(s)
		w2, ok2 := m.Find(n)
		if w1 != w2 || ok1 != ok2 {
			t.Fatalf("Find(%q) = %q, %v but Find(Normalize) = Find(%q) = %q, %v", s, w1, ok1, n, w2, ok2)
		}
	})
}

// FuzzFind checks the automaton against a naive scan, for the table's word
// list and for word lists made by the fuzzer (lines of its first input).
func FuzzFind(f *testing.F) {
	list := strings.Join(banned, "\n")
	for _, tt := range findTests {
		f.Add(list, tt.text)
	}
	f.Add("he\nshe\nhis\nhers\nh e", "ushers h e r s")
	f.Add("aa\na\naaa\na a", "a aa aaa a.a.a")
	f.Fuzz(func(t *testing.T, words, text string) {
		m := New(strings.Split(words, "\n"))
		got, ok := m.Find(text)
		want, wantOK := naiveFind(m, text)
		if got != want || ok != wantOK {
			t.Fatalf("words %q: Find(%q) = %q, %v; the naive scan finds %q, %v", words, text, got, ok, want, wantOK)
		}
		if again, _ := m.Find(text); again != got {
			t.Fatalf("Find(%q) is not stable: %q then %q", text, got, again)
		}
		// Every word is found in a text made of it alone.
		for _, w := range m.patterns {
			if _, ok := m.Find(w.word); !ok {
				t.Fatalf("words %q: Find(%q) found nothing", words, w.word)
			}
		}
	})
}

// naiveFind is the reference for Find: every pattern at every end
// position, the longest first, without the automaton.
func naiveFind(m *Matcher, text string) (string, bool) {
	st := getStream()
	defer putStream(st)
	st.add(text)
	st.finish()
	for end := 1; end <= len(st.chars); end++ {
		for n := end; n > 0; n-- {
			for i := range m.patterns {
				p := &m.patterns[i]
				if int(p.n) == n && equalChars(st.chars[end-n:end], p.word) && p.fits(st, end) {
					return p.word, true
				}
			}
		}
	}
	return "", false
}

// equalChars reports whether chars is word folded.
func equalChars(chars []char, word string) bool {
	st := getStream()
	defer putStream(st)
	st.add(word)
	if len(st.chars) != len(chars) {
		return false
	}
	for i, c := range chars {
		if st.chars[i].r != c.r {
			return false
		}
	}
	return true
}
