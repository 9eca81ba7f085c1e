package exchange

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzEnvelope checks the hand-written envelope encoder against
// encoding/json: the output is valid JSON and reads back to the same
// attributes, whatever the strings hold.
func FuzzEnvelope(f *testing.F) {
	f.Add("id-1", "stadion.topic.results", "CURMTEAM4---FNL", "ext", "v")
	f.Add("a\"b\\c", "t\u0001\u001f", "ü€😀", "seq2", "\n\t")
	f.Add("", "", "", "x", "")
	f.Fuzz(func(t *testing.T, id, typ, subject, extName, extVal string) {
		for _, s := range []string{id, typ, subject, extName, extVal} {
			if !utf8.ValidString(s) {
				return // the decoder refuses invalid UTF-8 before this point
			}
		}
		ev := Event{
			SpecVersion: "1.0", ID: id, Source: "/clients/odf", Type: typ, Subject: subject,
			Time: time.Unix(1644148800, 123456789).UTC(), DataSchema: "urn:x", DataContentType: ctJSON,
			Data: json.RawMessage(`{"n":[1,2.5,"x"]}`), Extensions: map[string]any{"zz" + extName: extVal},
		}
		out := ev.appendJSON(nil)
		var back map[string]any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		want := map[string]string{"id": id, "type": typ, "source": "/clients/odf", "specversion": "1.0",
			"time": "2022-02-06T12:00:00.123456789Z", "zz" + extName: extVal}
		if subject != "" {
			want["subject"] = subject
		}
		for k, v := range want {
			if back[k] != v {
				t.Errorf("%s: got %q, want %q", k, back[k], v)
			}
		}
		if d, _ := json.Marshal(back["data"]); string(d) != `{"n":[1,2.5,"x"]}` {
			t.Errorf("data: %s", d)
		}
	})
}
