package exchange

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/api"
)

// fuzzMediaTypes are the content types FuzzDecodeBody picks from: the three
// accepted ones and one that is not.
var fuzzMediaTypes = []string{ctJSON, ctCloudEvent, ctCloudEventBat, "text/plain"}

func mediaTypeIndex(ct string) uint8 {
	for i, mt := range fuzzMediaTypes {
		if mt == ct {
			return uint8(i)
		}
	}
	return 0
}

// FuzzDecodeBody feeds publish bodies to decodeBody. It must never panic;
// a decoded event has valid JSON data, the same data that sits at its
// pointer in the body; an error is a 400 or 415 problem whose pointers
// point into the body.
func FuzzDecodeBody(f *testing.F) {
	for _, tc := range publishErrorCases() {
		ct := tc.ct
		if ct == "" || ct == "-" {
			ct = ctJSON
		}
		f.Add(mediaTypeIndex(ct), []byte(tc.body))
	}
	for _, seed := range []struct {
		ct   string
		body string
	}{
		{ctJSON, goodLap},
		{ctJSON, "[" + goodLap + "," + goodLap + "]"},
		{ctJSON, " \n\t[1, \"x\", null, {\"a\": [true]}]  "},
		{ctJSON, `null`},
		{ctCloudEvent, `{"specversion":"1.0","id":"x","type":"t","time":"2026-02-04T20:00:00Z","ext1":"v","n":1,"b":false,"data":{"k":"v"}}`},
		{ctCloudEvent, `null`},
		{ctCloudEvent, `{"specversion":"1.0","~x":1,"a/b/c":true,"data":null}`},
		{ctCloudEventBat, `[{"specversion":"1.0","data":1},{"specversion":"1.0","data":[2]}]`},
		{ctCloudEventBat, `[]`},
		{ctCloudEventBat, `null`},
		{"text/plain", goodLap},
	} {
		f.Add(mediaTypeIndex(seed.ct), []byte(seed.body))
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		mt := fuzzMediaTypes[int(which)%len(fuzzMediaTypes)]
		events, batch, structured, err := decodeBody(mt, body)
		var doc any
		docErr := errors.New("not JSON")
		if v, err := decodeValue(body); err == nil {
			doc, docErr = v, nil
		}
		if err != nil {
			checkDecodeError(t, mt, body, err, doc, docErr)
			return
		}
		if mt == "text/plain" {
			t.Fatal("an unaccepted media type decoded")
		}
		if len(events) == 0 || len(events) > maxBatch {
			t.Fatalf("%d events", len(events))
		}
		if docErr != nil {
			t.Fatalf("a body that is not one JSON value decoded: %v", docErr)
		}
		if structured != (mt != ctJSON) {
			t.Errorf("structured = %v for %s", structured, mt)
		}
		_, isArr := doc.([]any)
		if batch != (mt == ctCloudEventBat || (mt == ctJSON && isArr)) {
			t.Errorf("batch = %v for %s %q", batch, mt, body)
		}
		if !batch && len(events) != 1 {
			t.Fatalf("%d events outside a batch", len(events))
		}
		for i, ev := range events {
			wantAt := ""
			if batch {
				wantAt = "/" + strconv.Itoa(i)
			}
			if ev.at != wantAt {
				t.Errorf("event %d at %q, want %q", i, ev.at, wantAt)
			}
			if !json.Valid(ev.data) {
				t.Fatalf("event %d: data %q is not valid JSON", i, ev.data)
			}
			again, err := decodeValue(ev.data)
			if err != nil || !reflect.DeepEqual(again, ev.value) {
				t.Fatalf("event %d: the stored data %q decodes to %#v, validated %#v (%v)", i, ev.data, again, ev.value, err)
			}
			inBody, err := resolvePointer(doc, ev.dataPointer(structured))
			if err != nil || !reflect.DeepEqual(inBody, ev.value) {
				t.Fatalf("event %d: data at %q in the body is %#v, decoded %#v (%v)", i, ev.dataPointer(structured), inBody, ev.value, err)
			}
		}
	})
}

func checkDecodeError(t *testing.T, mt string, body []byte, err error, doc any, docErr error) {
	t.Helper()
	var p *api.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %T %v is not a problem", err, err)
	}
	want := http.StatusBadRequest
	if mt == "text/plain" {
		want = http.StatusUnsupportedMediaType
	}
	if p.Status != want {
		t.Fatalf("status %d for %s, want %d (%v)", p.Status, mt, want, p)
	}
	if p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Errorf("incomplete problem %+v", p)
	}
	if strings.HasSuffix(p.Type, "/malformed-json") {
		// A strict-rule error (api.CheckJSON, whose own fuzz test checks
		// its pointers against encoding/json): the body is JSON, but a
		// pointer may run through a member that is later duplicated, so
		// it need not resolve in the last-wins decoding.
		var je *api.JSONError
		if len(p.Errors) > 0 && (!errors.As(api.CheckJSON(body), &je) || je.Pointer != p.Errors[0].Pointer) {
			t.Fatalf("problem pointer %+v, CheckJSON says %v", p.Errors, je)
		}
		return
	}
	for _, fe := range p.Errors {
		if fe.Message == "" {
			t.Errorf("empty message at %q", fe.Pointer)
		}
		if docErr != nil {
			t.Fatalf("field errors %+v for a body that is not JSON", p.Errors)
		}
		checkPointer(t, doc, fe.Pointer)
	}
}

// checkPointer fails unless pointer resolves in doc or is the place of a
// missing member (its parent resolves).
func checkPointer(t *testing.T, doc any, pointer string) {
	t.Helper()
	if pointer != "" && !strings.HasPrefix(pointer, "/") {
		t.Fatalf("pointer %q does not start with /", pointer)
	}
	if _, err := resolvePointer(doc, pointer); err == nil {
		return
	}
	parent := pointer[:strings.LastIndexByte(pointer, '/')]
	if _, err := resolvePointer(doc, parent); err != nil {
		t.Fatalf("pointer %q resolves neither itself nor its parent in %#v", pointer, doc)
	}
}
