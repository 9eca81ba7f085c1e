package live

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/api"
)

// FuzzDecodeComment: any payload decodes to valid UTF-8 text or an error,
// never a panic; JSON input round-trips its text.
func FuzzDecodeComment(f *testing.F) {
	for _, s := range []string{"hello", `{"text":"hi"}`, `{"text":1}`, `{"text":"a","x":1}`, "\xff\xfe", `{"text":"a"}{}`, " {", "", `{"text":null}`, "日本語", `{"text":"\u0000"}`, `{"text":"EVIL","text":"CLEAR"}`, `{"text":"a","\u0074ext":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		text, err := decodeComment(payload)
		if err != nil {
			return
		}
		if !utf8.ValidString(text) && json.Valid(payload) {
			t.Fatalf("decoded text %q is not valid UTF-8", text)
		}
		if j := bytes.TrimLeft(payload, " \t\r\n"); len(j) > 0 && j[0] == '{' && api.CheckJSON(j) != nil {
			t.Fatalf("accepted JSON that is not strict: %q", payload)
		}
		if !json.Valid(payload) && !utf8.Valid(payload) {
			t.Fatalf("accepted invalid UTF-8 %q", payload)
		}
	})
}
