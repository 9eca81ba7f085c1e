package wordfilter

import (
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

func FuzzFind(f *testing.F) {
	seedTexts(f)
	m := New(banned)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := m.Find(s)
		want, wantOK := naiveFind(m, s)
		if got != want || ok != wantOK {
			t.Fatalf("Find(%q) = %q, %v; the naive scan finds %q, %v", s, got, ok, want, wantOK)
		}
		if again, _ := m.Find(s); again != got {
			t.Fatalf("Find(%q) is not stable: %q then %q", s, got, again)
		}
		// A banned word in the text is found whatever surrounds it.
		if ok {
			if w, ok := m.Find(s + " " + got); !ok || w == "" {
				t.Fatalf("Find(%q) found nothing", s+" "+got)
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
