package wordfilter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchComments are 200-byte comments without banned words, so Find scans
// them to the end (the common and the slowest case).
var benchComments = map[string]string{
	"latin": pad("What a race! The final lap was incredible, she passed three skaters on the last bend " +
		"and the crowd went wild. Best Winter Games moment so far, congratulations to the whole team!! "),
	"cjk": pad("太精彩了！最后一圈她连超三人，全场沸腾，这是本届冬奥会最好的时刻，恭喜全队！加油中国队，冠军实至名归，"),
}

// pad cuts or repeats s to 200 bytes on a rune boundary.
func pad(s string) string {
	for len(s) < 200 {
		s += s
	}
	for i := 200; i > 0; i-- {
		if i < len(s) && s[i]&0xc0 != 0x80 {
			return s[:i]
		}
	}
	return s
}

// benchWords returns n banned words: mostly Latin words made of common
// English syllables (so the automaton sees many partial matches in the
// comments), a fifth Chinese pairs and triples of common characters.
func benchWords(n int) []string {
	syl := []string{"th", "er", "on", "an", "re", "he", "in", "ed", "nd", "ha", "at", "en", "es", "of", "or", "nt", "ea", "ti", "to", "it", "st", "io", "le", "is", "ou", "ar", "as", "de", "rt", "ve"}
	han := []rune("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明")
	rng := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 0, n)
	for i := 0; len(words) < n; i++ {
		var b strings.Builder
		if i%5 == 4 {
			for range 2 + rng.IntN(2) {
				b.WriteRune(han[rng.IntN(len(han))])
			}
		} else {
			for range 2 + rng.IntN(3) {
				b.WriteString(syl[rng.IntN(len(syl))])
			}
		}
		if w := b.String(); !inComments(w) {
			words = append(words, w)
		}
	}
	return words
}

// inComments reports whether w is found in one of the benchmark comments.
func inComments(w string) bool {
	m := New([]string{w})
	for _, c := range benchComments {
		if _, ok := m.Find(c); ok {
			return true
		}
	}
	return false
}

func BenchmarkFind(b *testing.B) {
	for _, n := range []int{10, 10000} {
		m := New(benchWords(n))
		for _, script := range []string{"latin", "cjk"} {
			text := benchComments[script]
			b.Run(fmt.Sprintf("%s/words=%d", script, n), func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				b.ReportAllocs()
				for b.Loop() {
					if w, ok := m.Find(text); ok {
						b.Fatalf("unexpected match %q", w)
					}
				}
			})
		}
	}
}

func BenchmarkFindParallel(b *testing.B) {
	m := New(benchWords(10000))
	text := benchComments["latin"]
	b.SetBytes(int64(len(text)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Find(text)
		}
	})
}

func BenchmarkNew(b *testing.B) {
	words := benchWords(10000)
	b.ReportAllocs()
	for b.Loop() {
		New(words)
	}
}

func BenchmarkNormalize(b *testing.B) {
	text := benchComments["latin"]
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Normalize(text)
	}
}
