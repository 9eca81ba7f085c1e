package delivery

import (
	"reflect"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// pointerCases are documents and pointers the fast path must resolve as
// encoding/json does; they also seed FuzzRowMapper.
var pointerCases = []struct {
	name, doc, pointer string
	typ                config.ColumnType
}{
	{"member", `{"data":{"a":"x"}}`, "/a", config.TypeText},
	{"nested", `{"id":"1","data":{"f":{"n":"CA1","eta":"2026-01-02T03:04:05Z"}}}`, "/f/eta", config.TypeTimestamp},
	{"integer", `{"data":{"n":42}}`, "/n", config.TypeBigint},
	{"integer from float", `{"data":{"n":4.5}}`, "/n", config.TypeBigint},
	{"double", `{"data":{"n":-1.5e3}}`, "/n", config.TypeDouble},
	{"double overflow", `{"data":{"n":1e400}}`, "/n", config.TypeDouble},
	{"boolean", `{"data":{"b":true}}`, "/b", config.TypeBoolean},
	{"boolean as text", `{"data":{"b":false}}`, "/b", config.TypeText},
	{"number as text", `{"data":{"n":1.50}}`, "/n", config.TypeText},
	{"object as json", `{"data":{"o":{"z":1,"a":[1,"<"]}}}`, "/o", config.TypeJSON},
	{"object as text", `{"data":{"o":{"z":1}}}`, "/o", config.TypeText},
	{"whole data", `{"data":[1,2]}`, "", config.TypeJSON},
	{"array index", `{"data":{"a":[10,11,12]}}`, "/a/2", config.TypeBigint},
	{"array index plus", `{"data":{"a":[10,11,12]}}`, "/a/+1", config.TypeBigint},
	{"array index out", `{"data":{"a":[10]}}`, "/a/1", config.TypeBigint},
	{"missing", `{"data":{"a":1}}`, "/b", config.TypeText},
	{"null", `{"data":{"a":null}}`, "/a", config.TypeBigint},
	{"no data", `{"id":"x"}`, "/a", config.TypeText},
	{"data null", `{"data":null}`, "/a", config.TypeText},
	{"data folded", `{"DaTa":{"a":"y"}}`, "/a", config.TypeText},
	{"duplicate data", `{"data":{"a":"1"},"data":{"b":"2"}}`, "/a", config.TypeText},
	{"duplicate member", `{"data":{"a":{"b":1},"a":5}}`, "/a/b", config.TypeBigint},
	{"escaped string", `{"data":{"a":"x\"y\u00e9\n"}}`, "/a", config.TypeText},
	{"escaped key", `{"data":{"a\u0062":"x"}}`, "/ab", config.TypeText},
	{"pointer escapes", `{"data":{"a/b":{"~":"x"}}}`, "/a~1b/~0", config.TypeText},
	{"wrong type", `{"data":{"a":"x"}}`, "/a", config.TypeBigint},
	{"bad timestamp", `{"data":{"a":"yesterday"}}`, "/a", config.TypeTimestamp},
	{"invalid json", `{"data":{"a":1,}}`, "/a", config.TypeText},
	{"not an object", `[1]`, "/a", config.TypeText},
	{"top null", `null`, "/a", config.TypeText},
	{"trailing", `{"data":{"a":"x"}} garbage`, "/a", config.TypeText},
	{"control char", "{\"data\":{\"a\":\"\x01\"}}", "/a", config.TypeText},
	{"invalid utf8", "{\"data\":{\"a\":\"\xff\"}}", "/a", config.TypeText},
	{"leading zero", `{"data":{"a":01}}`, "/a", config.TypeText},
	{"empty", ``, "/a", config.TypeText},
}

var fuzzTypes = []config.ColumnType{config.TypeText, config.TypeBigint, config.TypeDouble,
	config.TypeBoolean, config.TypeTimestamp, config.TypeJSON}

func TestPointerCases(t *testing.T) {
	for _, tc := range pointerCases {
		t.Run(tc.name, func(t *testing.T) { agree(t, []byte(tc.doc), tc.pointer, tc.typ) })
	}
}

// FuzzRowMapper checks that the fast path and encoding/json agree: the
// same values, or the same error.
func FuzzRowMapper(f *testing.F) {
	for _, tc := range pointerCases {
		for i, typ := range fuzzTypes {
			if typ == tc.typ {
				f.Add([]byte(tc.doc), tc.pointer, uint8(i))
			}
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, pointer string, typ uint8) {
		agree(t, doc, pointer, fuzzTypes[int(typ)%len(fuzzTypes)])
	})
}

// agree maps doc with one column, plus a few fixed ones, both ways.
func agree(t *testing.T, doc []byte, pointer string, typ config.ColumnType) {
	t.Helper()
	cols := map[string]string{"c": pointer, "d": "/a", "e": "/a/0", "f": ""}
	tbl := &Table{Columns: []Column{{Name: "c", Type: typ}, {Name: "d", Type: config.TypeText},
		{Name: "e", Type: config.TypeText}, {Name: "f", Type: config.TypeJSON}}}
	m := newRowMapper(tbl, &config.Sink{Columns: cols})
	got, gotErr := m.row(doc, 7)
	want, wantErr := m.rowSlow(doc, 7)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%q %q: error %v, encoding/json %v", doc, pointer, gotErr, wantErr)
	}
	if gotErr == nil && !sameRow(got, want) {
		t.Fatalf("%q %q: %#v, encoding/json %#v", doc, pointer, got, want)
	}
}

func sameRow(a, b Row) bool {
	if a.Seq != b.Seq || len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		ta, okA := a.Values[i].(time.Time)
		tb, okB := b.Values[i].(time.Time)
		if okA && okB {
			if !ta.Equal(tb) || ta.String() != tb.String() {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(a.Values[i], b.Values[i]) {
			return false
		}
	}
	return true
}
