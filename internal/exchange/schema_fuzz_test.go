package exchange

import (
	"sort"
	"strings"
	"testing"
)

// fuzzSchema has the keywords whose errors point below the document's
// root: nested objects and arrays, $ref, oneOf, formats, property names that
// need escaping in a JSON pointer.
const fuzzSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://stadion.dev/schemas/test/fuzz.json",
  "type": "object",
  "required": ["athlete", "n"],
  "additionalProperties": false,
  "properties": {
    "athlete": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
    "n": {"type": "integer", "minimum": 0, "maximum": 100},
    "splits": {"type": "array", "maxItems": 5, "items": {"$ref": "#/$defs/split"}},
    "a/b": {"type": "boolean"},
    "~t": {"enum": ["x", "y"]},
    "at": {"oneOf": [
      {"type": "string", "format": "date-time"},
      {"type": "object", "required": ["venue"], "properties": {"venue": {"type": "string", "minLength": 1}}}
    ]},
    "tags": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "additionalProperties": {"type": "string"}}
  },
  "$defs": {
    "split": {"type": "object", "required": ["ms"], "additionalProperties": false,
      "properties": {"ms": {"type": "integer", "minimum": 0}, "gate": {"$ref": "#/$defs/gate"}}},
    "gate": {"type": "string", "minLength": 2, "maxLength": 4}
  }
}`

// fuzzPrefixes are where a document may sit in a request body.
var fuzzPrefixes = []string{"", "/0", "/12/data", "/data"}

// TestSchemaErrors pins the pointers and messages for a few documents.
func TestSchemaErrors(t *testing.T) {
	s, err := CompileSchema("fuzz", []byte(fuzzSchema))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc  string
		want [][2]string
	}{
		{`{"athlete":"NOR-1","n":1}`, nil},
		{`{"athlete":"x","n":1}`, [][2]string{{"/athlete", "does not match pattern"}}},
		{`{"n":1,"a/b":1,"~t":"z"}`, [][2]string{{"", "missing property 'athlete'"}, {"/a~1b", "want boolean"}, {"/~0t", "value must be one of"}}},
		{`{"athlete":"NOR-1","n":1,"splits":[{"ms":1},{"ms":-1,"gate":"x"},{}]}`, [][2]string{
			{"/splits/1/gate", "minLength"}, {"/splits/1/ms", "minimum"}, {"/splits/2", "missing property 'ms'"},
		}},
		{`{"athlete":"NOR-1","n":1,"at":{"venue":""}}`, [][2]string{
			{"/at", "'oneOf' failed, none matched"}, {"/at", "got object, want string"}, {"/at/venue", "minLength"},
		}},
		{`7`, [][2]string{{"", "want object"}}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			v, err := decodeValue([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			errs := s.Validate(v, "/3")
			var want [][2]string
			for _, w := range tc.want {
				want = append(want, [2]string{"/3" + w[0], w[1]})
			}
			checkFieldErrors(t, problemBody{Errors: errs}, want)
		})
	}
}

// FuzzSchemaErrors validates random JSON documents against fuzzSchema:
// never a panic; an invalid document gets at least one error; every error
// has a non-empty message and a pointer under the given prefix that
// resolves in the document (or names a missing member of a place that
// does); the list is sorted by pointer without duplicates.
func FuzzSchemaErrors(f *testing.F) {
	for _, tc := range publishErrorCases() {
		f.Add(uint8(0), []byte(tc.body))
	}
	for _, doc := range []string{
		`{"athlete":"NOR-1","n":1}`,
		`{"n":1,"a/b":1,"~t":"z","tags":{"OK":1,"ok":"x"}}`,
		`{"athlete":"NOR-1","n":1,"splits":[{"ms":1},{"ms":-1,"gate":"x"},{},7]}`,
		`{"athlete":"NOR-1","n":1,"at":{"venue":""}}`,
		`{"athlete":"NOR-1","n":1,"at":"yesterday"}`,
		`{"athlete":"NOR-1","n":1.5e300,"extra":{"deep":[[[]]]}}`,
		`[{"athlete":1}]`,
		`null`,
	} {
		f.Add(uint8(1), []byte(doc))
	}
	s, err := CompileSchema("fuzz", []byte(fuzzSchema))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		v, err := decodeValue(raw)
		if err != nil {
			return
		}
		prefix := fuzzPrefixes[int(which)%len(fuzzPrefixes)]
		errs := s.Validate(v, prefix)
		if valid := s.sch.Validate(v) == nil; valid != (len(errs) == 0) {
			t.Fatalf("valid = %v but %d errors: %+v", valid, len(errs), errs)
		}
		seen := map[[2]string]bool{}
		for _, fe := range errs {
			if fe.Message == "" {
				t.Errorf("empty message at %q", fe.Pointer)
			}
			if !strings.HasPrefix(fe.Pointer, prefix) {
				t.Fatalf("pointer %q outside the prefix %q", fe.Pointer, prefix)
			}
			checkPointer(t, v, strings.TrimPrefix(fe.Pointer, prefix))
			k := [2]string{fe.Pointer, fe.Message}
			if seen[k] {
				t.Errorf("duplicate error %+v", fe)
			}
			seen[k] = true
		}
		if !sort.SliceIsSorted(errs, func(i, j int) bool { return errs[i].Pointer < errs[j].Pointer }) {
			t.Errorf("errors not sorted by pointer: %+v", errs)
		}
	})
}
