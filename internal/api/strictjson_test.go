package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// strictCases are the table of TestCheckJSON and the seeds of
// FuzzStrictJSON. want is nil for an accepted document.
var strictCases = []struct {
	name    string
	doc     string
	want    error
	pointer string
}{
	{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, nil, ""},
	{"scalar", ` 12 `, nil, ""},
	{"empty containers", `{"a":{},"b":[],"c":[{}]}`, nil, ""},
	{"same name in sibling objects", `[{"a":1},{"a":2}]`, nil, ""},
	{"same name at two depths", `{"a":{"a":{"a":1}}}`, nil, ""},
	{"dup at root", `{"conditions":"EVIL","conditions":"CLEAR"}`, ErrJSONDuplicateKey, "/conditions"},
	{"dup nested", `{"a":{"b":1,"c":2,"b":3}}`, ErrJSONDuplicateKey, "/a/b"},
	{"dup in array", `[{"x":1},{"y":1,"y":2}]`, ErrJSONDuplicateKey, "/1/y"},
	{"dup in batch data", `[{},{},{"data":{"conditions":"EVIL","conditions":"CLEAR"}}]`, ErrJSONDuplicateKey, "/2/data/conditions"},
	{"dup escaped equal", `{"a":1,"\u0061":2}`, ErrJSONDuplicateKey, "/a"},
	{"dup escaped both", `{"\/":1,"/":2}`, ErrJSONDuplicateKey, "/~1"},
	{"dup surrogate pair", `{"😀":1,"\ud83d\ude00":2}`, ErrJSONDuplicateKey, "/😀"},
	{"dup after many members", manyMembers(40, "m7"), ErrJSONDuplicateKey, "/m7"},
	{"many distinct members", manyMembers(40, ""), nil, ""},
	{"dup deep", `{"a":[[{"b":{"c":[0,{"d":1,"d":1}]}}]]}`, ErrJSONDuplicateKey, "/a/0/0/b/c/1/d"},
	{"dup empty name", `{"":1,"":2}`, ErrJSONDuplicateKey, "/"},
	{"different case is not a dup", `{"a":1,"A":2}`, nil, ""},
	{"1e308", `{"n":1e308}`, nil, ""},
	{"max double", `1.7976931348623157e308`, nil, ""},
	{"1e309", `{"n":1e309}`, ErrJSONNumberRange, "/n"},
	{"-1e999", `[0,-1e999]`, ErrJSONNumberRange, "/1"},
	{"just above max double", `1.7976931348623159e308`, ErrJSONNumberRange, ""},
	{"underflow to zero", `{"n":1e-400}`, ErrJSONNumberRange, "/n"},
	{"smallest denormal", `5e-324`, nil, ""},
	{"zero with an exponent", `0.0e-400`, nil, ""},
	{"exponent with leading zeros", `1e0000000000000000000000000001`, nil, ""},
	{"huge exponent on zero", `0e99999`, ErrJSONNumberRange, ""},
	{"negative zero", `-0`, nil, ""},
	{"400 digits", strings.Repeat("9", 400), ErrJSONNumberRange, ""},
	{"300 digits", strings.Repeat("9", 300), nil, ""},
	{"2^53+1 outside a schema", `{"n":9007199254740993}`, nil, ""},
	{"2^53", `9007199254740992`, nil, ""},
	{"1.0", `1.0`, nil, ""},
	{"utf8", `{"name":"Zürich 北京"}`, nil, ""},
	{"invalid utf8", "{\"name\":\"\xff\"}", ErrJSONInvalidUTF8, "/name"},
	{"invalid utf8 in a name", "{\"\xc3\x28\":1}", ErrJSONInvalidUTF8, ""},
	{"lone high surrogate", `["\ud800"]`, ErrJSONInvalidUTF8, "/0"},
	{"lone low surrogate", `{"t":"\udc00x"}`, ErrJSONInvalidUTF8, "/t"},
	{"two high surrogates", `"\ud800\ud800"`, ErrJSONInvalidUTF8, ""},
	{"trailing data", `{} {}`, ErrJSONSyntax, ""},
	{"trailing comma", `{"a":1,}`, ErrJSONSyntax, ""},
	{"unterminated", `{"a":[1,2`, ErrJSONSyntax, "/a/1"},
	{"empty", ``, ErrJSONSyntax, ""},
	{"leading zero", `01`, ErrJSONSyntax, ""},
	{"bad escape", `"\x"`, ErrJSONSyntax, ""},
	{"control character", "\"a\tb\"", ErrJSONSyntax, ""},
	{"too deep", strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1), ErrJSONTooDeep, ""},
	{"deepest allowed", strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth), nil, ""},
}

func manyMembers(n int, dup string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	if dup != "" {
		b.WriteString(`,"` + dup + `":0`)
	}
	b.WriteString("}")
	return b.String()
}

func TestCheckJSON(t *testing.T) {
	for _, tc := range strictCases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSON([]byte(tc.doc))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var je *JSONError
			if !errors.As(err, &je) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.pointer != "" && je.Pointer != tc.pointer {
				t.Fatalf("pointer %q, want %q (%v)", je.Pointer, tc.pointer, err)
			}
		})
	}
}

func TestMalformedJSONNamesThePointer(t *testing.T) {
	err := Unmarshal([]byte(`{"a":1,"a":2}`), &struct{ A int }{})
	var p *Problem
	if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
		t.Fatalf("got %v", err)
	}
	if len(p.Errors) != 1 || p.Errors[0].Pointer != "/a" || !strings.Contains(p.Errors[0].Message, "duplicate") {
		t.Fatalf("errors %+v", p.Errors)
	}
	if err := Unmarshal([]byte(`{"b":1}`), &struct{ A int }{}); err == nil {
		t.Fatal("an unknown field was accepted")
	}
	var ok struct{ A int }
	if err := Unmarshal([]byte(`{"A":3}`), &ok); err != nil || ok.A != 3 {
		t.Fatalf("got %v %+v", err, ok)
	}
}

// BenchmarkCheckJSON measures the strict check on the bundled example's
// ~1 KiB results document, beside the decode it accompanies on the publish
// path (encoding/json into any with UseNumber): the check should cost a
// small fraction of the decode.
func BenchmarkCheckJSON(b *testing.B) {
	doc, err := os.ReadFile("../../examples/games/testdata/results.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if err := CheckJSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
}

func TestCheckJSONArraySplits(t *testing.T) {
	elems, err := CheckJSONArray([]byte(" [ 1 , {\"a\": [2, 3]},\"x\" ,[] ] "))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(elems))
	for i, e := range elems {
		got[i] = string(e)
	}
	if strings.Join(got, "|") != `1|{"a": [2, 3]}|"x"|[]` {
		t.Fatalf("elements %q", got)
	}
	if elems, err := CheckJSONArray([]byte(`[]`)); err != nil || len(elems) != 0 {
		t.Fatalf("empty array: %q %v", elems, err)
	}
	for _, doc := range []string{`{"a":1}`, `7`, `[1,{"a":1,"a":2}]`, `[1] [2]`, ``} {
		if _, err := CheckJSONArray([]byte(doc)); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
}

// TestCheckJSONDepthBoundsStack: the deepest accepted document costs the
// check (and the recursive decoders after it) little stack; anything
// deeper is refused at once, whatever its size.
func TestCheckJSONDepthBoundsStack(t *testing.T) {
	deep := []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
	var je *JSONError
	if err := CheckJSON(deep); !errors.As(err, &je) || !errors.Is(err, ErrJSONTooDeep) || je.Offset != MaxJSONDepth {
		t.Fatalf("got %v; want too deep at byte %d", err, MaxJSONDepth)
	}
}
