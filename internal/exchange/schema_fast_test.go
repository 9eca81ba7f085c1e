package exchange

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// fastSchemaDocs are the schemas the fast path is held to the library on:
// every bundled example, the test topics' and one with every keyword the
// fast path knows, with bounds that are not integers.
func fastSchemaDocs(t testing.TB) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{"lap": []byte(lapSchema), "keywords": []byte(fastKeywordsSchema),
		"names": []byte(fastNamesSchema), "names-small": []byte(`{"required": ["x", "y"], "properties": {"x": {"const": 1}}, "additionalProperties": {"type": "integer"}}`)}
	entries, err := fs.ReadDir(games.FS, "schemas")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := fs.ReadFile(games.FS, path.Join("schemas", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		docs[strings.TrimSuffix(e.Name(), ".json")] = raw
	}
	return docs
}

const fastKeywordsSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id"],
  "minProperties": 1, "maxProperties": 8,
  "properties": {
    "id": {"type": ["string", "integer"], "minLength": 2, "maxLength": 8},
    "n": {"type": "integer", "minimum": -2.5, "exclusiveMaximum": 10.5},
    "x": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e3},
    "c": {"const": 3}, "e": {"enum": ["a", "b\u00e9", 1, true, null]},
    "s": {"type": "array", "uniqueItems": true, "minItems": 1, "maxItems": 4, "items": {"type": ["string", "integer", "boolean"]}},
    "d": {"type": "string", "format": "date"}, "u": {"type": "string", "format": "email"},
    "dt": {"format": "date-time"}, "tm": {"format": "time"}, "p": {"pattern": "^[0-9]+(?:[:.][0-9]+)*$"},
    "r": {"$ref": "#/$defs/r"}, "all": {"allOf": [{"type": "string"}, {"pattern": "^[a-z]+$"}]},
    "k": {"if": {"type": "string"}, "then": {"minLength": 3}, "else": {"type": "integer", "minimum": 100}},
    "no": false, "any": true
  },
  "additionalProperties": {"type": "boolean"},
  "$defs": {"r": {"type": "object", "properties": {"r": {"$ref": "#/$defs/r"}, "v": {"type": "null"}}, "additionalProperties": false}}
}`

// fastNamesSchema has many names (looked up by map), a required name
// that is not a property (its value meets additionalProperties).
const fastNamesSchema = `{
  "type": "object",
  "required": ["a", "b", "z"],
  "properties": {"a": {"type": "integer"}, "b": true, "p1": {"type": "string"}, "p2": {"type": "string"}, "p3": {"type": "string"},
    "p4": {"type": "string"}, "p5": {"type": "string"}, "p6": {"type": "string"}, "p7": {"type": "string"}, "p8": {"type": "string"},
    "p9": {"type": "string"}, "p10": {"type": "string"}, "p11": {"type": "string"}, "p12": {"type": "string"}},
  "additionalProperties": {"type": "integer"}
}`

// fastSeeds are documents for every schema: valid, invalid and undecidable.
var fastSeeds = []string{
	`{"id":"ab"}`, `{"id":12}`, `{"id":"a"}`, `{"id":"abcdefghi"}`, `{"id":"ab","n":-2}`, `{"id":"ab","n":-3}`,
	`{"id":"ab","n":10}`, `{"id":"ab","n":11}`, `{"id":"ab","n":1.0}`, `{"id":"ab","n":1e1}`, `{"id":"ab","x":0}`,
	`{"id":"ab","x":0.5}`, `{"id":"ab","x":1000}`, `{"id":"ab","x":1000.0001}`, `{"id":"ab","c":3}`, `{"id":"ab","c":3.0}`,
	`{"id":"ab","c":"3"}`, `{"id":"ab","e":"b\u00e9"}`, `{"id":"ab","e":"bé"}`, `{"id":"ab","e":1}`, `{"id":"ab","e":null}`,
	`{"id":"ab","e":false}`, `{"id":"ab","s":["a","b"]}`, `{"id":"ab","s":["a","a"]}`, `{"id":"ab","s":[1,1.0]}`,
	`{"id":"ab","s":[]}`, `{"id":"ab","d":"2026-02-29"}`, `{"id":"ab","d":"2028-02-29"}`, `{"id":"ab","u":"a@b.c"}`,
	`{"id":"ab","u":"nope"}`, `{"id":"ab","r":{"r":{"r":{"v":null}}}}`, `{"id":"ab","r":{"r":{"w":1}}}`,
	`{"id":"ab","all":"abc"}`, `{"id":"ab","all":"aBc"}`, `{"id":"ab","k":"abc"}`, `{"id":"ab","k":"ab"}`,
	`{"id":"ab","k":100}`, `{"id":"ab","k":99}`, `{"id":"ab","k":1e2}`, `{"id":"ab","no":1}`, `{"id":"ab","any":[1]}`,
	`{"id":"ab","extra":true}`, `{"id":"ab","extra":1}`, `{"i\u0064":"ab"}`, `[]`, `"x"`, `null`, `1`,
	`{"id":"ab","dt":"2026-02-08T06:00:00Z"}`, `{"id":"ab","dt":"2026-12-31T23:59:60Z"}`, `{"id":"ab","dt":"2026-02-29T06:00:00Z"}`,
	`{"id":"ab","dt":"2026-02-08t06:00:00.5-01:30"}`, `{"id":"ab","dt":"2026-02-08T06:00:00\u005a"}`, `{"id":"ab","tm":"23:59:60+00:00"}`,
	`{"id":"ab","tm":"06:00:00"}`, `{"id":"ab","tm":1}`, `{"id":"ab","p":"1:2.3"}`, `{"id":"ab","p":"1:"}`, `{"id":"ab","p":"\u0031"}`,
	`{"a":1,"b":2,"z":3}`, `{"a":1,"b":2}`, `{"a":1,"b":2,"z":"s"}`, `{"a":1,"b":2,"z":3,"p1":"s","p12":1}`, `{"b":2,"z":3}`,
	`{"\u0061":1,"b":2,"z":3}`, `{"a":1,"b":"x","z":3,"p9":"s","q":4}`, `{"x":1}`, `{"x":1,"y":2}`, `{"x":2,"y":2}`, `{"y":2,"x":1,"w":"s"}`,
	`{"athlete":"NOR-1","n":1,"ms":5}`, `{"athlete":"NOR-1","n":1,"ms":5,"splits":[1,2,-1]}`,
	`{"athlete":"NOR-1","n":1,"ms":12345678901234567}`, `{"athlete":"NOR-\u0031","n":0,"ms":0,"at":{"venue":"x"}}`,
}

// TestFastSchemaAgreesWithLibrary runs every seed and every example
// document against every schema: where the fast path decides, the library
// must decide the same.
func TestFastSchemaAgreesWithLibrary(t *testing.T) {
	docs := fastSchemaDocs(t)
	inputs := append([]string(nil), fastSeeds...)
	entries, _ := fs.ReadDir(os.DirFS("../../examples/games/testdata"), ".")
	for _, e := range entries {
		raw, err := os.ReadFile(path.Join("../../examples/games/testdata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(raw))
	}
	decided := 0
	for name, raw := range docs {
		s, err := CompileSchema(name, raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.fast == nil {
			_, err := compileFast(raw)
			t.Errorf("%s: no fast path: %v", name, err)
			continue
		}
		for _, in := range inputs {
			if checkFastAgainstLibrary(t, s, []byte(in)) {
				decided++
			}
		}
	}
	if decided == 0 {
		t.Fatal("the fast path decided nothing")
	}
}

// checkFastAgainstLibrary fails t when the fast path's decision on doc
// differs from the library's; it reports whether the fast path decided.
func checkFastAgainstLibrary(t testing.TB, s *Schema, doc []byte) bool {
	if api.CheckJSON(doc) != nil {
		return false
	}
	tp, err := readTape(doc)
	if err != nil {
		t.Fatalf("tape of %s: %v", doc, err)
	}
	defer putTape(tp)
	v := s.fast.check(tp, 0)
	if v == vUnsure {
		return false
	}
	value, err := decodeValue(doc)
	if err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	libValid := len(s.Validate(value, "")) == 0
	if libValid != (v == vYes) {
		t.Fatalf("schema %s, document %s: fast path says valid=%v, the library %v", s.ID, doc, v == vYes, libValid)
	}
	return true
}

// FuzzFastSchema holds the fast path to the library on any document.
func FuzzFastSchema(f *testing.F) {
	docs := fastSchemaDocs(f)
	var schemas []*Schema
	for name, raw := range docs {
		s, err := CompileSchema(name, raw)
		if err != nil || s.fast == nil {
			f.Fatalf("%s: %v", name, err)
		}
		schemas = append(schemas, s)
	}
	for _, seed := range fastSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if api.CheckJSON(doc) == nil {
			var want bytes.Buffer
			if err := json.Compact(&want, doc); err != nil {
				t.Fatalf("json.Compact refuses what CheckJSON accepted: %s: %v", doc, err)
			}
			if got := compactChecked(doc); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("compactChecked(%q) = %q, json.Compact %q", doc, got, want.Bytes())
			}
			if tp, err := readTape(doc); err == nil {
				if want := bytes.ContainsAny(doc, "\n\r\t"); tp.pretty != want {
					t.Fatalf("tape of %q: pretty %v, want %v (compact's cue)", doc, tp.pretty, want)
				}
				putTape(tp)
			}
		}
		for _, s := range schemas {
			checkFastAgainstLibrary(t, s, doc)
		}
	})
}

// TestFastKeyMatchesExtractKey reads keys off tapes and off decoded values.
func TestFastKeyMatchesExtractKey(t *testing.T) {
	for _, tc := range []struct{ doc, ptr string }{
		{`{"id":"NOR-1"}`, "/id"}, {`{"id":17}`, "/id"}, {`{"id":-0}`, "/id"}, {`{"id":1.5}`, "/id"},
		{`{"id":""}`, "/id"}, {`{"id":"\u00e9\n"}`, "/id"}, {`{"a":{"b/c":["x","y"]}}`, "/a/b~1c/1"},
		{`{"a":[1,2]}`, "/a/2"}, {`{"a":[1,2]}`, "/a/-1"}, {`{"id":true}`, "/id"}, {`{}`, "/id"},
		{`{"id":"` + strings.Repeat("x", 257) + `"}`, "/id"}, {`{"id":123456789012345678901}`, "/id"},
	} {
		tp, err := readTape([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := tp.key(tc.ptr)
		putTape(tp)
		v, _ := decodeValue([]byte(tc.doc))
		want, err := extractKey(v, tc.ptr)
		if ok != (err == nil) || got != want {
			t.Errorf("%s %s: tape gives %q, %v; extractKey %q, %v", tc.doc, tc.ptr, got, ok, want, err)
		}
	}
}

// TestFastEnvelopeMatchesFullPath publishes the example documents through
// both paths and compares the stored envelopes but for id and time.
func TestFastEnvelopeMatchesFullPath(t *testing.T) {
	cfg, err := config.Load(games.FS, "stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	x := &Exchange{cfg: cfg}
	for _, name := range cfg.TopicNames() {
		tc := cfg.Topics[name]
		raw, err := os.ReadFile("../../examples/games/testdata/" + name + ".json")
		if err != nil {
			continue
		}
		tp := &topic{name: name, cfg: tc}
		if tc.Schema != "" {
			schemaRaw, _ := cfg.ReadFile(tc.Schema)
			if tp.schema, err = CompileSchema(name, schemaRaw); err != nil {
				t.Fatal(err)
			}
		}
		var flat bytes.Buffer
		if err := json.Compact(&flat, raw); err != nil {
			t.Fatal(err)
		}
		spaced := strings.ReplaceAll(flat.String(), `":`, `": `) // spaces only: kept as they are
		bodies := []string{string(raw), "[" + string(raw) + "," + string(raw) + "]", flat.String(), spaced,
			"  " + spaced + " ", " " + spaced + "\n", "[\n\t" + string(raw) + " ,\r\n" + spaced + "]\n", "[" + spaced + ", " + flat.String() + "]"}
		for _, b := range bodies {
			body := []byte(b)
			fast, batch, ok := x.prepareFast(tp, "odf", body, "k1")
			if !ok {
				t.Errorf("%s: the fast path did not take the example", name)
				continue
			}
			events, _, _, err := decodeBody(ctJSON, body)
			if err != nil {
				t.Fatal(err)
			}
			full, err := x.prepare(tp, "odf", events, false, "k1", batch)
			if err != nil {
				t.Fatal(err)
			}
			for i := range full {
				if fast[i].subject != full[i].subject || fast[i].msgID != full[i].msgID || !sameButIDTime(t, fast[i].body, full[i].body) {
					t.Errorf("%s event %d: fast %s %s %s, full %s %s %s", name, i, fast[i].subject, fast[i].msgID, fast[i].body, full[i].subject, full[i].msgID, full[i].body)
				}
			}
		}
	}
}

func sameButIDTime(t *testing.T, a, b []byte) bool {
	t.Helper()
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return false
	}
	if !bytes.Equal(ma["data"], mb["data"]) {
		return false // the stored bytes, not only the same JSON (Marshal compacts)
	}
	for _, m := range []map[string]json.RawMessage{ma, mb} {
		delete(m, "id")
		delete(m, "time")
	}
	ja, _ := json.Marshal(ma)
	jb, _ := json.Marshal(mb)
	return bytes.Equal(ja, jb)
}
