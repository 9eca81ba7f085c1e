package drain

import (
	"strings"
	"testing"
)

var maskCases = []struct{ in, want string }{
	{"12", "<NUM>"},
	{"-3.5", "<NUM>"},
	{"250ms", "<NUM>"},
	{"10KiB", "<NUM>"},
	{"results", "results"},
	{"venue-bn", "venue-bn"},
	{"10.0.0.7", "<IP>"},
	{"10.0.0.7:4222", "<IP>"},
	{"[::1]:8080", "<IP>"},
	{"fe80::1%eth0", "<IP>"},
	{"nats-1.example.org:4222", "<IP>"},
	{"0xdeadbeef", "<HEX>"},
	{"a3f9c2d1e0", "<HEX>"},
	{"deadbeef", "deadbeef"}, // no digit: a word
	{"123e4567-e89b-12d3-a456-426614174000", "<UUID>"},
	{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "<KEY>"},
	{"sk_live_abc123def456ghi789", "<KEY>"},
	{"key=hunter2", "key=<KEY>"},
	{"api_key=x", "api_key=<KEY>"},
	{"token=", "token="},
	{"seq=42", "seq=<NUM>"},
	{"topic=results", "topic=results"},
	{"addr=127.0.0.1:9", "addr=<IP>"},
	{`"10.1.2.3",`, `"<IP>",`},
	{"(42)", "(<NUM>)"},
	{"", ""},
	{"=", "="},
}

func TestMaskToken(t *testing.T) {
	for _, c := range maskCases {
		t.Run(c.in, func(t *testing.T) {
			if got := MaskToken(c.in); got != c.want {
				t.Errorf("MaskToken(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestTokenizeMasksBearerAndCaps(t *testing.T) {
	toks, dropped := Tokenize("auth failed: Authorization: Bearer abc extra words here", 6, nil)
	got := strings.Join(toks, " ")
	if want := "auth failed: Authorization: Bearer <KEY> extra"; got != want {
		t.Errorf("tokens %q, want %q", got, want)
	}
	if dropped != 2 {
		t.Errorf("dropped %d, want 2", dropped)
	}
}

// FuzzTokenize checks, for any line, that the tokenizer never panics,
// keeps its cap, never returns an empty token, and that no value of a
// secret key survives masking.
func FuzzTokenize(f *testing.F) {
	for _, c := range maskCases {
		f.Add(c.in)
	}
	f.Add("publish failed topic=results key=sk_live_zzzzzzzzzzzzzzzzzz err=\"timeout after 5s\"")
	f.Add("Bearer\tBearer \x00 [::]: :::: 0x 1.2.3.4/24 =x= a=b=c")
	f.Fuzz(func(t *testing.T, line string) {
		toks, dropped := Tokenize(line, 16, nil)
		if len(toks) > 16 || dropped < 0 {
			t.Fatalf("%d tokens, %d dropped", len(toks), dropped)
		}
		for _, tok := range toks {
			if tok == "" {
				t.Fatalf("empty token from %q", line)
			}
			if k, v, ok := strings.Cut(tok, "="); ok && isSecretKey(k) && v != "" && v != maskKey && !strings.ContainsAny(k, "\"'") {
				t.Fatalf("secret value kept: %q from %q", tok, line)
			}
		}
		m := New(Options{MaxTokens: 16, MaxTemplates: 4})
		m.Add(line)
		m.Add(line)
		if m.Len() > 1 {
			t.Fatalf("the same line made %d templates", m.Len())
		}
	})
}
