package exchange

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/api"
)

// strictCases are documents around every strict-JSON rule.
var strictCases = []string{
	`{}`, `[]`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a\u0000":1,"a":2}`, `{"é":1,"\u00e9":2}`,
	`{"a":{"b":1,"b":1}}`, `[{"a":1},{"a":1}]`, `{"` + strings.Repeat(`x":1,"`, 20) + `y":1}`,
	objectWithNames(17, ""), objectWithNames(17, "k3"), objectWithNames(40, "k39"), objectWithNames(17, `\u006b3`),
	`1e308`, `1e309`, `-1e309`, `1e-400`, `0e-400`, `0e99999`, `1E+2`, `1.5e-3`, `-0`, `-01`, `01`, `1.`, `.5`,
	`-`, `1-2`, `1e`, `1e+`, `2.e3`, strings.Repeat("9", 301), strings.Repeat("9", 400), "0." + strings.Repeat("0", 400) + "1",
	`true`, `false`, `null`, `tru`, `truee`, `nul`, `True`, `[true,false,null]`, `[truefalse]`,
	`"a"`, `"\u00e9"`, `"é"`, "\"\xff\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"", `"\ud800"`, `"\udc00"`,
	`"\ud800\udc00"`, `"\ud800\u0041"`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01\"", "\"a\tb\"", `"\"`, `"\\"`, `"\/"`,
	`[1,]`, `[,1]`, `[1 2]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1}x`, ` {"a":1} `, "\n[1,\t2]\r\n", `[1]]`, `[`, `{`,
	`"`, ``, ` `, `[[[]]]`, strings.Repeat("[", 127) + strings.Repeat("]", 127), strings.Repeat("[", 128) + strings.Repeat("]", 128),
	strings.Repeat("[", 129) + strings.Repeat("]", 129), strings.Repeat(`{"a":`, 128) + "1" + strings.Repeat("}", 128),
	strings.Repeat(`{"a":`, 129) + "1" + strings.Repeat("}", 129), "[" + strings.Repeat("[", 127) + strings.Repeat("]", 127) + "]",
}

func objectWithNames(n int, dup string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	if dup != "" {
		b.WriteString(`,"` + dup + `":2`)
	}
	b.WriteString("}")
	return b.String()
}

// TestStrictTapeAgreesWithCheckJSON: the tape accepts exactly what
// api.CheckJSON accepts, and splits a batch as api.CheckJSONArray does.
func TestStrictTapeAgreesWithCheckJSON(t *testing.T) {
	for _, doc := range strictCases {
		checkStrictTape(t, []byte(doc))
		checkStrictTape(t, []byte("["+doc+"]"))
		checkStrictTape(t, []byte("[1, "+doc+" ,2]"))
	}
}

func checkStrictTape(t testing.TB, doc []byte) {
	want := api.CheckJSON(doc)
	tp, err := readTape(doc)
	if (err == nil) != (want == nil) {
		t.Fatalf("%.200q: tape accepts %v, api.CheckJSON %v", doc, err == nil, want)
	}
	if err == nil {
		if got, want := tp.appendCompact(nil, 0), compactChecked(doc); !bytes.Equal(got, want) {
			t.Fatalf("%.200q: the tape compacts to %q, compactChecked %q", doc, got, want)
		}
		putTape(tp)
	}
	elems, werr := api.CheckJSONArray(doc)
	var got [][]byte
	ok := eachElement(doc, func(tp *tape, raw []byte) bool {
		if !bytes.Equal(tp.rawValue(), raw) {
			t.Fatalf("%.200q: element %q, tape's value %q", doc, raw, tp.rawValue())
		}
		if c, want := tp.appendCompact(nil, 0), compactChecked(raw); !bytes.Equal(c, want) {
			t.Fatalf("%.200q: element %q compacts to %q, compactChecked %q", doc, raw, c, want)
		}
		got = append(got, raw)
		return true
	})
	if werr == nil && len(elems) == 0 {
		if ok {
			t.Fatalf("%.200q: an empty batch taken", doc)
		}
		return
	}
	if ok != (werr == nil) {
		t.Fatalf("%.200q: split accepts %v, api.CheckJSONArray %v", doc, ok, werr)
	}
	if ok {
		if len(got) != len(elems) {
			t.Fatalf("%.200q: %d elements, api %d", doc, len(got), len(elems))
		}
		for i := range got {
			if !bytes.Equal(got[i], elems[i]) {
				t.Fatalf("%.200q: element %d is %q, api %q", doc, i, got[i], elems[i])
			}
		}
	}
}

// FuzzStrictTape holds the tape's strict check and batch split to
// api.CheckJSON and api.CheckJSONArray on any bytes.
func FuzzStrictTape(f *testing.F) {
	for _, doc := range strictCases {
		f.Add([]byte(doc))
	}
	for _, doc := range fastSeeds {
		f.Add([]byte(doc))
		f.Add([]byte("[" + doc + "," + doc + "]"))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkStrictTape(t, doc)
	})
}
