package wordfilter

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"case", "Hello WORLD", "hello world"},
		{"full-width letters and digits", "ＡＢＣ１２３", "abc123"},
		{"full-width space", "ab\u3000cd", "ab cd"},
		{"half-width katakana", "ｶﾀｶﾅ", "カタカナ"},
		{"half-width voiced katakana", "ｶﾞｷﾞ", "ガギ"},
		{"voicing marks kept", "カガ", "カガ"},
		{"hangul", "씨발", "씨발"},
		{"styled letters", "𝐟𝐮𝐜𝐤 ⓕⓤⓒⓚ", "fuck fuck"},
		{"accents removed", "fúçk", "fuck"},
		{"zalgo", "f\u0336u\u0336c\u0336k\u0336", "fuck"},
		{"zero width", "f\u200bu\u200cc\u200dk\ufeff", "fuck"},
		{"soft hyphen", "fu\u00adck", "fuck"},
		{"cyrillic look-alikes", "fuсk аss", "fuck ass"},
		{"greek look-alikes", "fυcκ", "fuck"},
		{"sharp s", "Straße", "strasse"},
		{"separator runs", "  b  a\t\nn  ", "b a n"},
		{"punctuation runs", "b.a__n--", "b.a.n"},
		{"mixed runs", "b. a", "b a"},
		{"spacing accent is punctuation", "fu¨ck", "fu.ck"},
		{"emoji kept", "ok 🖕", "ok 🖕"},
		{"variation selector", "🖕\ufe0f", "🖕"},
		{"invalid utf-8", "fu\xffck", "fuck"},
		{"cjk", "你个傻逼吧", "你个傻逼吧"},
		{"kangxi radical", "\u2f08", "人"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Normalize(tt.in)
			if got != tt.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := Normalize(got); again != got {
				t.Fatalf("Normalize is not idempotent: %q → %q", got, again)
			}
		})
	}
}
