package exchange

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"testing"
)

// examplePatterns are the patterns of the bundled results schema.
var examplePatterns = []string{
	`^[A-Z]{3}$`, `^[A-Z]{3}[0-9]{4}$`, `^DT_[A-Z_]+$`, `^[A-Z0-9][A-Z0-9-]{0,33}$`,
	`^[A-Z0-9][A-Z0-9-]{2,8}$`, `^[0-9]+(?:[:.][0-9]+)*$`, `^(?:[A-Z]{3}[MWX-][A-Z0-9-]{30}|-{34})$`,
}

// fastPatterns get a byte matcher; slowPatterns must keep the regexp.
var fastPatterns = append([]string{
	`^$`, `^a$`, `^[a-z]+[0-9]?$`, `^(?:ab)+$`, `^x?y$`, `^[a-c]{2,}d*$`, `^(?:a[0-9]*){2}b$`,
	`^(?:[0-9]{2}(?:[.][0-9]+)?)?$`, `\A[A-Z]\z`, `^(?:a|b|cd)$`, `^[^\x00-\x60\x{7b}-\x{10FFFF}]+$`,
	`^(?:a*|b)$`, `^a{0}b$`, `^(?:x{2,3}y)*z$`,
}, examplePatterns...)

var slowPatterns = []string{
	`[A-Z]{3}`, `^[A-Z]{3}`, `[A-Z]{3}$`, `^a*a$`, `^x?x$`, `^(?:ab)*a$`, `^[A-Z]{2,4}[0-9]{0,2}[A-Z]$`,
	`^(?i)abc$`, `^é$`, `^[a-zé]$`, `^.$`, `^(a)$`, `^a\bb$`, `(?m)^a$`, `^a$|^b$`, `^(?:ab|cd)+$`,
	`^[^a]$`, `^(?:a?)+$`, `^(?:a[0-9]*){2}[0-9]$`, `^a^b$`, `^\pL$`, `^(?:x{2,3}x)*$`,
}

func TestBytePatternCompiles(t *testing.T) {
	for _, p := range fastPatterns {
		if compileBytePattern(p) == nil {
			t.Errorf("%s: no byte matcher, want one", p)
		}
	}
	for _, p := range slowPatterns {
		if _, err := regexp.Compile(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if compileBytePattern(p) != nil {
			t.Errorf("%s: a byte matcher, want the regexp", p)
		}
	}
}

// TestBytePatternAgreesWithRegexp generates, per pattern, strings near
// its language (from the pattern, with counts around their bounds and
// bytes from its classes, their neighbours and some non-ASCII), mutates
// them, and requires the byte matcher to answer as regexp.Match.
func TestBytePatternAgreesWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2))
	for _, p := range fastPatterns {
		agreeOnPattern(t, rng, p)
	}
}

func agreeOnPattern(t *testing.T, rng *rand.Rand, p string) {
	bp, re := compileBytePattern(p), regexp.MustCompile(p)
	if bp == nil {
		return
	}
	alphabet := patternAlphabet(bp)
	var yes, no int
	for range 20000 {
		s := genPattern(rng, bp, alphabet)
		for m := rng.IntN(3); m > 0; m-- {
			s = mutate(rng, s, alphabet)
		}
		got, want := bp.match(s), re.Match(s)
		if got != want {
			t.Fatalf("%s on %q: byte matcher %v, regexp %v", p, s, got, want)
		}
		if want {
			yes++
		} else {
			no++
		}
	}
	if p != `^$` && (yes < 100 || no < 100) {
		t.Errorf("%s: the generator made %d matches and %d misses, want both", p, yes, no)
	}
}

// patternAlphabet is every byte of the pattern's classes, their
// neighbours, and bytes no ASCII class holds.
func patternAlphabet(bp *bytePattern) []byte {
	var set byteSet
	var walk func([]pelem)
	walk = func(seq []pelem) {
		for _, e := range seq {
			if e.group != nil {
				walk(e.group)
			}
			for c := range 256 {
				if e.first.has(byte(c)) {
					set.add(byte(c))
					set.add(byte(c - 1))
					set.add(byte(c + 1))
				}
			}
		}
	}
	for _, seq := range bp.alts {
		walk(seq)
	}
	for _, c := range []byte{0, '\n', 0x7f, 0x80, 0xc3, 0xa9, 0xff} {
		set.add(c)
	}
	var out []byte
	for c := range 256 {
		if set.has(byte(c)) {
			out = append(out, byte(c))
		}
	}
	return out
}

func genPattern(rng *rand.Rand, bp *bytePattern, alphabet []byte) []byte {
	var out []byte
	var gen func([]pelem, int)
	gen = func(seq []pelem, depth int) {
		for _, e := range seq {
			hi := e.max
			if hi < 0 {
				hi = e.min + 4
			}
			n := e.min + rng.IntN(hi-e.min+1)
			if depth > 2 {
				n = e.min
			}
			switch rng.IntN(20) {
			case 0:
				n = max(e.min-1, 0)
			case 1:
				n = hi + 1
			}
			for range n {
				if e.group != nil {
					gen(e.group, depth+1)
					continue
				}
				var members []byte
				for c := range 256 {
					if e.first.has(byte(c)) {
						members = append(members, byte(c))
					}
				}
				if len(members) == 0 || rng.IntN(30) == 0 {
					out = append(out, alphabet[rng.IntN(len(alphabet))])
				} else {
					out = append(out, members[rng.IntN(len(members))])
				}
			}
		}
	}
	gen(bp.alts[rng.IntN(len(bp.alts))], 0)
	return out
}

func mutate(rng *rand.Rand, s []byte, alphabet []byte) []byte {
	c := alphabet[rng.IntN(len(alphabet))]
	if len(s) == 0 {
		return []byte{c}
	}
	i := rng.IntN(len(s))
	switch rng.IntN(3) {
	case 0:
		return append(s[:i:i], append([]byte{c}, s[i:]...)...)
	case 1:
		return append(s[:i:i], s[i+1:]...)
	default:
		out := append([]byte(nil), s...)
		out[i] = c
		return out
	}
}

// FuzzBytePattern holds the byte matcher to regexp.Match on any pattern
// it accepts and any input.
func FuzzBytePattern(f *testing.F) {
	for _, p := range append(fastPatterns, slowPatterns...) {
		f.Add(p, "ABC")
		f.Add(p, "12:34.5")
	}
	f.Fuzz(func(t *testing.T, p string, s string) {
		re, err := regexp.Compile(p)
		if err != nil {
			return
		}
		bp := compileBytePattern(p)
		if bp == nil {
			return
		}
		if got, want := bp.match([]byte(s)), re.MatchString(s); got != want {
			t.Fatalf("%q on %q: byte matcher %v, regexp %v", p, s, got, want)
		}
	})
}

// TestBundledPatternsAreFast: every pattern of the bundled schemas with a
// byte matcher agrees with the regexp on generated strings, and every
// pattern of the results schema (the one `stadion bench exchange`
// measures) has one.
func TestBundledPatternsAreFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 3))
	seen := map[string]bool{}
	for name, raw := range fastSchemaDocs(t) {
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, sub := range x {
					if p, ok := sub.(string); ok && k == "pattern" {
						if compileBytePattern(p) == nil && name == "results" {
							t.Errorf("%s: pattern %s has no byte matcher", name, p)
						}
						if !seen[p] {
							seen[p] = true
							agreeOnPattern(t, rng, p)
						}
					}
					walk(sub)
				}
			case []any:
				for _, sub := range x {
					walk(sub)
				}
			}
		}
		walk(doc)
	}
}
