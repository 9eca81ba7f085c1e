package exchange

import (
	"strings"
	"testing"
)

func TestSchemaSafeInteger(t *testing.T) {
	sch, err := CompileSchema("t", []byte(`{
		"type": "object",
		"properties": {
			"i": {"type": "integer"},
			"o": {"type": ["integer", "null"]},
			"n": {"type": "number"},
			"a": {"type": "array", "items": {"$ref": "#/$defs/count"}}
		},
		"$defs": {"count": {"type": "integer", "minimum": 0}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc  string
		want string // pointer of the error, "" when valid
	}{
		{`{"i":9007199254740992}`, ""},
		{`{"i":-9007199254740992}`, ""},
		{`{"i":9007199254740993}`, "/i"},
		{`{"i":-9007199254740993}`, "/i"},
		{`{"i":9007199254740993.0}`, "/i"},
		{`{"i":1e300}`, "/i"},
		{`{"i":1.0}`, ""},
		{`{"i":1e15}`, ""},
		{`{"o":18014398509481984}`, "/o"},
		{`{"o":null}`, ""},
		{`{"n":9007199254740993}`, ""},
		{`{"n":1e300}`, ""},
		{`{"a":[1,2,9007199254740993]}`, "/a/2"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			v, err := decodeValue([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			errs := sch.Validate(v, "")
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %+v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Pointer != tc.want || !strings.Contains(errs[0].Message, "2^53") {
				t.Fatalf("errors %+v, want one at %s", errs, tc.want)
			}
		})
	}
}

func TestCompileSchemaRefusesDuplicateKeywords(t *testing.T) {
	_, err := CompileSchema("t", []byte(`{"type":"object","maximum":1,"maximum":1e999}`))
	if err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("got %v", err)
	}
}
