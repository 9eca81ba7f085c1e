package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzStrictJSON checks CheckJSON against encoding/json: it never panics,
// it accepts exactly what json.Valid accepts minus the strict rules (as
// found by a reference built on json.Decoder's tokens), and the pointer of
// a duplicate member or an out-of-range number names a real location.
func FuzzStrictJSON(f *testing.F) {
	for _, tc := range strictCases {
		f.Add([]byte(tc.doc))
	}
	f.Add([]byte(`{"a":{"b":1,"b":2},"a":3}`))
	f.Add([]byte(`{"a~/b":[1e999]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckJSON(data)
		checkArraySplit(t, data, err)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("accepted what encoding/json refuses: %q", data)
			}
			return
		}
		ref := referenceStrict(data)
		if ref.skip {
			return
		}
		var je *JSONError
		if err != nil && !errors.As(err, &je) {
			t.Fatalf("error is %T, not *JSONError", err)
		}
		if (err == nil) != ref.ok() {
			t.Fatalf("CheckJSON says %v; reference %+v; doc %q", err, ref, data)
		}
		if err == nil {
			return
		}
		switch {
		case errors.Is(err, ErrJSONDuplicateKey), errors.Is(err, ErrJSONNumberRange):
			if !ref.deep && !ref.paths[je.Pointer] {
				t.Fatalf("pointer %q of %v is not a location of %q", je.Pointer, err, data)
			}
		case errors.Is(err, ErrJSONTooDeep):
			if !ref.tooDeep {
				t.Fatalf("%v, but the reference found no nesting beyond %d in %q", err, MaxJSONDepth, data)
			}
		case errors.Is(err, ErrJSONInvalidUTF8):
			if ref.utf8 {
				t.Fatalf("%v, but the reference saw valid text in %q", err, data)
			}
		default:
			t.Fatalf("valid JSON refused with %v: %q", err, data)
		}
	})
}

// strictRef is what the reference found in a document json.Valid accepts.
type strictRef struct {
	dup, overflow bool
	utf8          bool // valid UTF-8 and no lone surrogate escape
	skip          bool // a lone surrogate cannot be told from U+FFFD here
	deep          bool // too deep to record every pointer cheaply
	tooDeep       bool // nested beyond MaxJSONDepth
	paths         map[string]bool
}

func (r strictRef) ok() bool { return !r.dup && !r.overflow && r.utf8 && !r.tooDeep }

// referenceStrict walks the tokens of encoding/json, recording every
// value's pointer (all occurrences, duplicates included), duplicate member
// names and numbers that overflow a double.
func referenceStrict(data []byte) strictRef {
	ref := strictRef{utf8: utf8.Valid(data), paths: map[string]bool{}}
	litFFFD := bytes.Contains(data, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type level struct {
		obj   bool
		index int
		names map[string]bool
		key   string
		want  bool // an object waiting for a member name
	}
	var stack []*level
	ptr := func() string {
		var b strings.Builder
		for _, l := range stack {
			b.WriteByte('/')
			if l.obj {
				b.WriteString(PointerToken(l.key))
			} else {
				b.WriteString(strconv.Itoa(l.index))
			}
		}
		return b.String()
	}
	checkString := func(s string) {
		if strings.ContainsRune(s, utf8.RuneError) && ref.utf8 {
			if litFFFD {
				ref.skip = true
			} else {
				ref.utf8 = false // encoding/json replaced a lone surrogate
			}
		}
	}
	// done moves past a complete value in its container.
	done := func() {
		if top := len(stack) - 1; top >= 0 {
			if stack[top].obj {
				stack[top].want = true
			} else {
				stack[top].index++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return ref
		}
		if err != nil {
			ref.skip = true
			return ref
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].obj && stack[top].want {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:top]
				done()
				continue
			}
			name := tok.(string)
			checkString(name)
			if stack[top].names[name] {
				ref.dup = true
			}
			stack[top].names[name] = true
			stack[top].key, stack[top].want = name, false
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:top]
			done()
			continue
		}
		if len(stack) <= 64 {
			ref.paths[ptr()] = true
		} else {
			ref.deep = true
		}
		switch v := tok.(type) {
		case json.Number:
			ref.overflow = ref.overflow || !fitsDouble(string(v))
		case string:
			checkString(v)
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &level{obj: d == '{', names: map[string]bool{}, want: d == '{'})
			ref.tooDeep = ref.tooDeep || len(stack) > MaxJSONDepth
		} else {
			done()
		}
	}
}

// fitsDouble is the reference number rule: finite, not a non-zero number
// read as zero, and a written exponent within ±999.
func fitsDouble(n string) bool {
	mant, exp, hasExp := strings.Cut(strings.ToLower(n), "e")
	if hasExp {
		exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
		if len(exp) > 3 {
			return false
		}
	}
	f, _ := strconv.ParseFloat(n, 64)
	nonzero := strings.ContainsAny(mant, "123456789")
	return !math.IsInf(f, 0) && (f != 0 || !nonzero)
}

// checkArraySplit: CheckJSONArray agrees with CheckJSON on arrays, and its
// elements are the array's elements, each a strict JSON document.
func checkArraySplit(t *testing.T, data []byte, checkErr error) {
	elems, err := CheckJSONArray(data)
	isArr := len(bytes.TrimLeft(data, " \t\r\n")) > 0 && bytes.TrimLeft(data, " \t\r\n")[0] == '['
	if !isArr {
		if err == nil {
			t.Fatalf("CheckJSONArray accepted a non-array %q", data)
		}
		return
	}
	if (err == nil) != (checkErr == nil) {
		t.Fatalf("CheckJSONArray says %v, CheckJSON %v for %q", err, checkErr, data)
	}
	if err != nil {
		return
	}
	var want []json.RawMessage
	if json.Unmarshal(data, &want) != nil || len(want) != len(elems) {
		t.Fatalf("%d elements, encoding/json finds %d in %q", len(elems), len(want), data)
	}
	for i := range elems {
		if !bytes.Equal(elems[i], bytes.TrimSpace(want[i])) || CheckJSON(elems[i]) != nil {
			t.Fatalf("element %d is %q, want %q", i, elems[i], want[i])
		}
	}
}
