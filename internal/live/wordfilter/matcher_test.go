package wordfilter

import (
	"fmt"
	"sync"
	"testing"
)

// banned is the word list of the table tests, in several scripts and forms.
var banned = []string{
	"ass", "Fuck", "bitch", "ban", "anal", "88", "kill yourself", "a-hole",
	"傻逼", "操你妈", "死ね", "バカ", "씨발", "сука", "🖕",
}

var findTests = []struct {
	name, text, want string // want "" means no match
}{
	{"plain", "what the fuck", "Fuck"},
	{"upper case", "WHAT THE FUCK", "Fuck"},
	{"mixed case", "FuCk this", "Fuck"},
	{"full-width", "ｆｕｃｋ　ｔｈｉｓ", "Fuck"},
	{"full-width upper", "ＦＵＣＫ", "Fuck"},
	{"styled letters", "𝐟𝐮𝐜𝐤", "Fuck"},
	{"spaced", "i will b a n you", "ban"},
	{"dotted", "b.a.n", "ban"},
	{"underscored", "b_a_n", "ban"},
	{"hyphenated", "b-a-n", "ban"},
	{"punctuation inside a word", "fu.ck off", "Fuck"},
	{"spaced dots", "f. u. c. k.", "Fuck"},
	{"spelled out after a one-letter word", "you are a b i t c h", "bitch"},
	{"zero-width inside", "fu\u200bck", "Fuck"},
	{"byte order mark inside", "b\ufeffitch", "bitch"},
	{"accents", "fúck", "Fuck"},
	{"zalgo", "f\u0336\u0301u\u0336c\u0336k", "Fuck"},
	{"cyrillic look-alike", "fuсk", "Fuck"},
	{"digits after", "fuck123", "Fuck"},
	{"punctuation around", "(fuck)!", "Fuck"},
	{"start of text", "bitch please", "bitch"},
	{"digits word", "code 88 here", "88"},
	{"spaced digits", "8 8", "88"},
	{"phrase", "go kill yourself now", "kill yourself"},
	{"phrase glued", "killyourself", "kill yourself"},
	{"phrase with extra spaces", "kill   your-self", "kill yourself"},
	{"separator in word optional", "ahole", "a-hole"},
	{"separator in word present", "a hole", "a-hole"},
	{"chinese substring", "你个傻逼吧", "傻逼"},
	{"chinese spaced", "操 你 妈", "操你妈"},
	{"chinese spaced pairs", "操你 妈", "操你妈"},
	{"chinese dotted", "傻.逼", "傻逼"},
	{"japanese substring", "お前死ねよ", "死ね"},
	{"half-width katakana", "ﾊﾞｶだな", "バカ"},
	{"full-width katakana", "バカ野郎", "バカ"},
	{"hangul", "씨발놈아", "씨발"},
	{"cyrillic word", "ты сука", "сука"},
	{"cyrillic word upper", "СУКА", "сука"},
	{"emoji", "ok🖕ok", "🖕"},
	{"emoji with variation selector", "🖕\ufe0f", "🖕"},
	{"latin next to cjk", "你fuck我", "Fuck"},

	{"innocent classic", "a classic match", ""},
	{"innocent bass", "bass guitar", ""},
	{"innocent assets", "assets and passes", ""},
	{"innocent assassin", "assassin's creed", ""},
	{"innocent banana", "a banana band", ""},
	{"innocent scunthorpe", "Scunthorpe United", ""},
	{"innocent two words", "as an al jazeera reporter", ""},
	{"innocent one-letter word", "an SS officer is a ss man", ""},
	{"innocent year", "since 1988", ""},
	{"innocent kana", "カカオ", ""},
	{"voicing matters", "ハカ", ""},
	{"innocent cyrillic", "сок", ""},
	{"empty", "", ""},
	{"separators only", " .-_ ", ""},
}

func TestFind(t *testing.T) {
	m := New(banned)
	for _, tt := range findTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.Find(tt.text)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("Find(%q) = %q, %v; want %q", tt.text, got, ok, tt.want)
			}
		})
	}
}

func TestNewIgnoresEmptyAndDuplicates(t *testing.T) {
	m := New([]string{"", "   ", "..", "\u200b", "Bitch", "bitch", "ＢＩＴＣＨ"})
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
	if got, ok := m.Find("b i t c h"); !ok || got != "Bitch" {
		t.Fatalf("Find = %q, %v; want the first spelling, Bitch", got, ok)
	}
}

func TestEmptyMatcher(t *testing.T) {
	for name, m := range map[string]*Matcher{"nil": nil, "zero": {}, "no words": New(nil), "blank words": New([]string{" "})} {
		t.Run(name, func(t *testing.T) {
			if w, ok := m.Find("anything at all"); ok {
				t.Fatalf("Find = %q, want no match", w)
			}
		})
	}
}

func TestFindReportsFirstMatch(t *testing.T) {
	m := New([]string{"bad", "worse", "b"})
	if got, _ := m.Find("worse then bad"); got != "worse" {
		t.Fatalf("Find = %q, want worse (it ends first)", got)
	}
}

func TestManyWords(t *testing.T) {
	words := make([]string, 0, 10000)
	for i := range 10000 {
		words = append(words, fmt.Sprintf("w%dx", i))
	}
	m := New(words)
	for _, i := range []int{0, 1, 999, 5555, 9999} {
		want := fmt.Sprintf("w%dx", i)
		if got, ok := m.Find("say " + want + " now"); !ok || got != want {
			t.Fatalf("Find = %q, %v; want %q", got, ok, want)
		}
	}
	if got, ok := m.Find("w10000x w12xy aw13x"); ok {
		t.Fatalf("Find = %q, want no match", got)
	}
}

func TestConcurrentFind(t *testing.T) {
	m := New(banned)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, tt := range findTests {
					if got, _ := m.Find(tt.text); got != tt.want {
						t.Errorf("Find(%q) = %q, want %q", tt.text, got, tt.want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
