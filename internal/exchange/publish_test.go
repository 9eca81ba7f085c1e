package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const goodLap = `{"athlete":"NOR-1","n":1,"ms":61000}`

// publishCase is one request to the publish endpoint that must fail.
type publishCase struct {
	name   string
	key    string // "pub", "sub", "none", "unknown", "garbage", "revoked"
	topic  string
	ct     string // Content-Type; "-" sends none
	header []string
	body   string
	status int
	ptype  string // problem type slug
	// errs are the expected (pointer, message substring) pairs, in order.
	errs [][2]string
}

// publishErrorCases covers every error status of POST
// /v1/topics/{topic}/events but 503 (TestPublishEngineUnavailable). The
// bodies also seed the fuzz tests.
func publishErrorCases() []publishCase {
	badItem := `{"athlete":"nor","n":-1,"ms":"slow"}`
	ce := func(data string, extra string) string {
		return `{"specversion":"1.0","id":"e1","source":"/x","type":"t"` + extra + `,"data":` + data + `}`
	}
	return []publishCase{
		// 400: malformed JSON.
		{name: "malformed/truncated", body: `{"athlete":"NOR-1",`, status: 400, ptype: "malformed-json"},
		{name: "malformed/empty", body: ``, status: 400, ptype: "malformed-json"},
		{name: "malformed/trailing data", body: goodLap + ` {}`, status: 400, ptype: "malformed-json"},
		{name: "malformed/batch", body: `[` + goodLap + `,{]`, status: 400, ptype: "malformed-json"},
		{name: "malformed/cloudevent", ct: ctCloudEvent, body: `{"specversion":`, status: 400, ptype: "malformed-json"},
		{name: "malformed/cloudevent batch", ct: ctCloudEventBat, body: `[` + ce(goodLap, "") + `,`, status: 400, ptype: "malformed-json"},
		{name: "malformed/cloudevent batch not an array", ct: ctCloudEventBat, body: ce(goodLap, ""), status: 400, ptype: "malformed-json"},

		// 400: strict JSON (api.CheckJSON), at the pointer of the value.
		{name: "strict/duplicate member in a batch", body: `[` + goodLap + `,{"athlete":"NOR-1","n":1,"ms":1,"n":2}]`, status: 400, ptype: "malformed-json", errs: [][2]string{
			{"/1/n", "duplicate member name"},
		}},
		{name: "strict/escaped duplicate in cloudevent batch data", ct: ctCloudEventBat, body: `[` + ce(goodLap, "") + `,` + ce(`{"athlete":"NOR-1","n":1,"ms":1,"\u0061thlete":"SWE-2"}`, "") + `]`, status: 400, ptype: "malformed-json", errs: [][2]string{
			{"/1/data/athlete", "duplicate member name"},
		}},
		{name: "strict/duplicate cloudevent attribute", ct: ctCloudEvent, body: ce(goodLap, `,"type":"u"`), status: 400, ptype: "malformed-json", errs: [][2]string{
			{"/type", "duplicate member name"},
		}},
		{name: "strict/number beyond a double", body: `{"athlete":"NOR-1","n":1,"ms":1e999}`, status: 400, ptype: "malformed-json", errs: [][2]string{
			{"/ms", "out of the range"},
		}},
		{name: "strict/lone surrogate", body: `{"athlete":"NOR-1","n":1,"ms":1,"note":"\ud800"}`, status: 400, ptype: "malformed-json", errs: [][2]string{
			{"/note", "not valid UTF-8"},
		}},
		{name: "schema/integer beyond 2^53", body: `{"athlete":"NOR-1","n":1,"ms":9007199254740993}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/ms", "beyond ±2^53"},
		}},

		// 400: schema violations, each at its pointer.
		{name: "schema/every property", body: badItem, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/athlete", "does not match pattern"}, {"/ms", "want integer"}, {"/n", "minimum"},
		}},
		{name: "schema/missing and extra", body: `{"athlete":"NOR-1","n":1,"speed":3}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"", "additional properties 'speed'"}, {"", "missing property 'ms'"},
		}},
		{name: "schema/nested", body: `{"athlete":"NOR-1","n":1,"ms":1,"splits":[1,-2,"x"],"at":{}}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/at", "missing property 'venue'"}, {"/splits/1", "minimum"}, {"/splits/2", "want integer"},
		}},
		{name: "schema/not an object", body: `[1]`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/0", "want object"},
		}},
		{name: "schema/batch item 2", body: `[` + goodLap + `,` + goodLap + `,` + badItem + `]`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/2/athlete", "does not match pattern"}, {"/2/ms", "want integer"}, {"/2/n", "minimum"},
		}},
		{name: "schema/batch items 0 and 3", body: `[{"athlete":"NOR-1","n":1},` + goodLap + `,` + goodLap + `,{"athlete":"NOR-1","n":1,"ms":-5}]`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/0", "missing property 'ms'"}, {"/3/ms", "minimum"},
		}},
		{name: "schema/cloudevent data", ct: ctCloudEvent, body: ce(badItem, ""), status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/data/athlete", "does not match pattern"}, {"/data/ms", "want integer"}, {"/data/n", "minimum"},
		}},
		{name: "schema/cloudevent batch item 2", ct: ctCloudEventBat, body: `[` + ce(goodLap, "") + `,` + ce(goodLap, "") + `,` + ce(`{"athlete":"NOR-1","n":1,"ms":-1}`, "") + `]`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/2/data/ms", "minimum"},
		}},
		{name: "key/missing on sync topic", topic: "roster", body: `{"name":"x"}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"", "key /id is missing"},
		}},
		{name: "key/wrong type in batch", topic: "roster", body: `[{"id":"a"},{"id":""}]`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/1", "must be 1-256 characters"},
		}},

		// 400: CloudEvent attributes.
		{name: "cloudevent/specversion", ct: ctCloudEvent, body: `{"specversion":"0.3","data":` + goodLap + `}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/specversion", `must be "1.0"`},
		}},
		{name: "cloudevent/no data", ct: ctCloudEvent, body: `{"specversion":"1.0"}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/data", "required"},
		}},
		{name: "cloudevent/binary data", ct: ctCloudEvent, body: `{"specversion":"1.0","data_base64":"AAAA"}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/data_base64", "binary data is not accepted"}, {"/data", "required"},
		}},
		{name: "cloudevent/time", ct: ctCloudEvent, body: ce(goodLap, `,"time":"yesterday"`), status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/time", "RFC 3339"},
		}},
		{name: "cloudevent/datacontenttype", ct: ctCloudEvent, body: ce(goodLap, `,"datacontenttype":"text/xml"`), status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/datacontenttype", "must be application/json"},
		}},
		{name: "cloudevent/reserved seq", ct: ctCloudEvent, body: ce(goodLap, `,"seq":7`), status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/seq", "seq is reserved"},
		}},
		{name: "cloudevent/extension object", ct: ctCloudEvent, body: ce(goodLap, `,"ext":{"a":1}`), status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/ext", "must be strings, numbers or booleans"},
		}},
		{name: "cloudevent/extension name with slash", ct: ctCloudEvent, body: ce(goodLap, `,"a/b":"x"`), status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/a~1b", "extension attribute names"},
		}},
		{name: "cloudevent/batch item not an object", ct: ctCloudEventBat, body: `[` + ce(goodLap, "") + `,7]`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/1", "not a JSON object"},
		}},
		{name: "cloudevent/empty id", ct: ctCloudEvent, body: `{"specversion":"1.0","id":"","data":` + goodLap + `}`, status: 400, ptype: "invalid-event", errs: [][2]string{
			{"/id", "non-empty"},
		}},

		// 400: other request problems.
		{name: "batch/empty", body: `[]`, status: 400, ptype: "bad-request"},
		{name: "batch/over 1000 events", topic: "notes", body: "[" + strings.Repeat("1,", maxBatch) + "1]", status: 400, ptype: "bad-request"},
		{name: "idempotency key/space", header: []string{"Idempotency-Key", "a b"}, body: goodLap, status: 400, ptype: "bad-request"},
		{name: "idempotency key/too long", header: []string{"Idempotency-Key", strings.Repeat("k", 201)}, body: goodLap, status: 400, ptype: "bad-request"},

		// 401.
		{name: "401/no key", key: "none", body: goodLap, status: 401, ptype: "unauthorized"},
		{name: "401/unknown key", key: "unknown", body: goodLap, status: 401, ptype: "unauthorized"},
		{name: "401/garbage key", key: "garbage", body: goodLap, status: 401, ptype: "unauthorized"},
		{name: "401/revoked key", key: "revoked", body: goodLap, status: 401, ptype: "unauthorized"},
		{name: "401/basic auth", key: "none", header: []string{"Authorization", "Basic cHViOnB1Yg=="}, body: goodLap, status: 401, ptype: "unauthorized"},

		// 403, 404.
		{name: "403/subscriber publishes", key: "sub", body: goodLap, status: 403, ptype: "forbidden"},
		{name: "403/other publishes to laps", key: "other", body: goodLap, status: 403, ptype: "forbidden"},
		{name: "404/unknown topic", topic: "nope", body: goodLap, status: 404, ptype: "not-found"},
		{name: "404/invalid topic name", topic: "NOPE..x", body: goodLap, status: 404, ptype: "not-found"},

		// 413: max_body is 4KiB.
		{name: "413/single", topic: "notes", body: `{"pad":"` + strings.Repeat("x", 5000) + `"}`, status: 413, ptype: "too-large"},
		{name: "413/just over", topic: "notes", body: `"` + strings.Repeat("x", 4096-1) + `"`, status: 413, ptype: "too-large"},

		// 415.
		{name: "415/text", ct: "text/plain", body: goodLap, status: 415, ptype: "unsupported-media-type"},
		{name: "415/none", ct: "-", body: goodLap, status: 415, ptype: "unsupported-media-type"},
		{name: "415/unparsable", ct: "application/json; =", body: goodLap, status: 415, ptype: "unsupported-media-type"},
		{name: "415/binary cloudevent", ct: "application/octet-stream", header: []string{"ce-specversion", "1.0"}, body: goodLap, status: 415, ptype: "unsupported-media-type"},
	}
}

func TestPublishErrors(t *testing.T) {
	h := newHarness(t)
	keys := map[string]string{
		"pub":     h.key("pub"),
		"sub":     h.key("sub"),
		"other":   h.key("other"),
		"none":    "",
		"unknown": "stk_0123456789abcdef_" + strings.Repeat("A", 43),
		"garbage": "not-a-key",
	}
	revoked, id := h.keyWithID("pub")
	if r := h.do("DELETE", "/v1/clients/pub/keys/"+id, h.admin, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	keys["revoked"] = revoked

	for _, tc := range publishErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := h.as(t)
			if tc.key == "" {
				tc.key = "pub"
			}
			if tc.topic == "" {
				tc.topic = "laps"
			}
			header := append([]string(nil), tc.header...)
			switch tc.ct {
			case "":
				header = append(header, "Content-Type", ctJSON)
			case "-":
			default:
				header = append(header, "Content-Type", tc.ct)
			}
			path := "/v1/topics/" + tc.topic + "/events"
			r := h.do("POST", path, keys[tc.key], []byte(tc.body), header...)
			p := problem(t, r, tc.status, path)
			if want := "https://stadion.dev/problems/" + tc.ptype; p.Type != want {
				t.Errorf("type %q, want %q", p.Type, want)
			}
			checkFieldErrors(t, p, tc.errs)
			if tc.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.status == http.StatusUnsupportedMediaType && !slices.Equal(p.Accepted, acceptedTypes) {
				t.Errorf("accepted %v, want %v", p.Accepted, acceptedTypes)
			}
		})
	}

	// Nothing of the above was stored, and the server still serves.
	for _, topic := range []string{"laps", "roster", "notes"} {
		if n := h.stored(topic); n != 0 {
			t.Errorf("topic %s holds %d events after rejected requests", topic, n)
		}
	}
	rc := h.mustPublish(keys["pub"], "laps", goodLap)
	if rc.Seq != 1 {
		t.Errorf("first stored event has seq %d, want 1", rc.Seq)
	}
	if r := h.do("GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("healthz: %d", r.status)
	}
}

// checkFieldErrors compares the problem's errors with (pointer, message
// substring) pairs, in any order; with none expected, there must be none.
func checkFieldErrors(t *testing.T, p problemBody, want [][2]string) {
	t.Helper()
	if len(p.Errors) != len(want) {
		t.Fatalf("errors %+v, want %d: %v", p.Errors, len(want), want)
	}
	used := make([]bool, len(p.Errors))
	for _, w := range want {
		found := false
		for i, got := range p.Errors {
			if !used[i] && got.Pointer == w[0] && strings.Contains(got.Message, w[1]) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no error at %q with a message containing %q in %+v", w[0], w[1], p.Errors)
		}
	}
}

func TestPublishEngineUnavailable(t *testing.T) {
	h := newHarness(t)
	pub := h.key("pub")
	h.mustPublish(pub, "laps", goodLap)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	path := "/v1/topics/laps/events"
	for name, body := range map[string]string{"single": goodLap, "batch": "[" + goodLap + "," + goodLap + "]"} {
		t.Run(name, func(t *testing.T) {
			h := h.as(t)
			p := problem(t, h.publish(pub, "laps", body), http.StatusServiceUnavailable, path)
			if !strings.HasSuffix(p.Type, "/unavailable") {
				t.Errorf("type %q", p.Type)
			}
		})
	}
	t.Run("read", func(t *testing.T) {
		h := h.as(t)
		r := h.do("GET", "/v1/topics/laps/events", h.admin, nil)
		problem(t, r, http.StatusServiceUnavailable, "/v1/topics/laps/events")
	})
	t.Run("readyz", func(t *testing.T) {
		h := h.as(t)
		problem(t, h.do("GET", "/readyz", "", nil), http.StatusServiceUnavailable, "/readyz")
	})
	// Validation still answers without the engine.
	t.Run("bad input still 400", func(t *testing.T) {
		h := h.as(t)
		problem(t, h.publish(pub, "laps", `{`), http.StatusBadRequest, path)
	})
}

func TestPublishStoresBeforeAccepting(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	for i := range 5 {
		body := fmt.Sprintf(`{"athlete":"NOR-%d","n":%d,"ms":%d}`, i, i, 60000+i)
		rc := h.mustPublish(pub, "laps", body)
		if rc.Seq != uint64(i+1) {
			t.Fatalf("event %d: seq %d", i, rc.Seq)
		}
		// Right after the 202, the event is readable at its seq.
		p := h.read(sub, "laps", fmt.Sprintf("after_seq=%d&limit=1", rc.Seq-1))
		if len(p.events) != 1 || p.events[0].Seq != rc.Seq || p.events[0].ID != rc.ID {
			t.Fatalf("event %d not readable at seq %d after 202: %+v", i, rc.Seq, p.events)
		}
		assertJSONEqual(t, p.events[0].Data, body)
	}
	if n := h.stored("laps"); n != 5 {
		t.Errorf("stream holds %d events, want 5", n)
	}
}

func TestEnvelope(t *testing.T) {
	h := newHarness(t)
	pub, sub, other := h.key("pub"), h.key("sub"), h.key("other")

	t.Run("plain JSON", func(t *testing.T) {
		h := h.as(t)
		before := time.Now().UTC()
		body := "{\n  \"athlete\": \"SUI-77\",\t\"n\": 3, \"ms\": 59999, \"tag\": \"pb\" }"
		rc := h.mustPublish(pub, "laps", body)
		after := time.Now().UTC()
		ev := h.read(sub, "laps", fmt.Sprintf("after_seq=%d&limit=1", rc.Seq-1)).events[0]
		want := gotEvent{
			SpecVersion: "1.0", ID: rc.ID, Source: "/clients/pub", Type: "stadion.topic.laps",
			Subject: "SUI-77", DataSchema: lapSchemaID, DataContentType: "application/json", Seq: rc.Seq,
		}
		checkEnvelope(t, ev, want)
		if ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(after.Add(time.Second)) {
			t.Errorf("time %v not around the request (%v to %v)", ev.Time, before, after)
		}
		assertJSONEqual(t, ev.Data, body)
		if strings.ContainsAny(string(ev.Data), " \n") {
			t.Errorf("data is not compacted: %s", ev.Data)
		}
	})

	t.Run("sync topic without $id", func(t *testing.T) {
		h := h.as(t)
		rc := h.mustPublish(pub, "roster", `{"id":42,"name":"Ada"}`)
		ev := h.read(sub, "roster", fmt.Sprintf("after_seq=%d", rc.Seq-1)).events[0]
		checkEnvelope(t, ev, gotEvent{
			SpecVersion: "1.0", ID: rc.ID, Source: "/clients/pub", Type: "stadion.topic.roster",
			Subject: "42", DataSchema: "urn:stadion:schema:roster", DataContentType: "application/json", Seq: rc.Seq,
		})
	})

	t.Run("no schema, no key", func(t *testing.T) {
		h := h.as(t)
		rc := h.mustPublish(other, "notes", `"just a string"`)
		ev := h.read(other, "notes", fmt.Sprintf("after_seq=%d", rc.Seq-1)).events[0]
		checkEnvelope(t, ev, gotEvent{
			SpecVersion: "1.0", ID: rc.ID, Source: "/clients/other", Type: "stadion.topic.notes",
			DataContentType: "application/json", Seq: rc.Seq,
		})
		if _, ok := ev.All["dataschema"]; ok {
			t.Error("dataschema set for a topic without a schema")
		}
		if _, ok := ev.All["subject"]; ok {
			t.Error("subject set for a topic without a key")
		}
	})

	t.Run("structured CloudEvent", func(t *testing.T) {
		h := h.as(t)
		body := `{"specversion":"1.0","id":"ce-42","source":"/clients/admin","type":"org.example.lap",
			"time":"2026-02-04T20:00:00.123456789+01:00","subject":"spoofed","dataschema":"https://evil.example/s.json",
			"datacontenttype":"application/json; charset=utf-8","region":"north","attempt":2,"final":true,
			"data":{"athlete":"ITA-5","n":9,"ms":58000}}`
		r := h.publish(pub, "laps", body, "Content-Type", "application/cloudevents+json; charset=utf-8")
		if r.status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		var rc Receipt
		r.decode(t, &rc)
		if rc.ID != "ce-42" {
			t.Errorf("receipt id %q, want the event's own id ce-42", rc.ID)
		}
		ev := h.read(sub, "laps", fmt.Sprintf("after_seq=%d", rc.Seq-1)).events[0]
		checkEnvelope(t, ev, gotEvent{
			SpecVersion: "1.0", ID: "ce-42", Source: "/clients/pub", Type: "org.example.lap",
			Subject: "ITA-5", DataSchema: lapSchemaID, DataContentType: "application/json", Seq: rc.Seq,
		})
		wantTime := time.Date(2026, 2, 4, 19, 0, 0, 123456789, time.UTC)
		if !ev.Time.Equal(wantTime) {
			t.Errorf("time %v, want %v", ev.Time, wantTime)
		}
		for k, v := range map[string]any{"region": "north", "attempt": 2.0, "final": true} {
			if !reflect.DeepEqual(ev.All[k], v) {
				t.Errorf("extension %s = %#v, want %#v", k, ev.All[k], v)
			}
		}
		assertJSONEqual(t, ev.Data, `{"athlete":"ITA-5","n":9,"ms":58000}`)
	})

	t.Run("structured CloudEvent keeps subject without key", func(t *testing.T) {
		h := h.as(t)
		body := `{"specversion":"1.0","id":"n-1","source":"/spoof","type":"note","subject":"s-1","data":{"x":1}}`
		r := h.publish(other, "notes", body, "Content-Type", ctCloudEvent)
		if r.status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		var rc Receipt
		r.decode(t, &rc)
		ev := h.read(other, "notes", fmt.Sprintf("after_seq=%d", rc.Seq-1)).events[0]
		if ev.Subject != "s-1" || ev.Source != "/clients/other" || ev.Type != "note" {
			t.Errorf("got subject %q source %q type %q", ev.Subject, ev.Source, ev.Type)
		}
	})

	t.Run("CloudEvents batch", func(t *testing.T) {
		h := h.as(t)
		body := `[{"specversion":"1.0","id":"b-1","data":{"athlete":"AUT-1","n":1,"ms":1}},
			{"specversion":"1.0","type":"custom","data":{"athlete":"AUT-2","n":1,"ms":1}}]`
		r := h.publish(pub, "laps", body, "Content-Type", ctCloudEventBat)
		if r.status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		var rcs []Receipt
		r.decode(t, &rcs)
		if len(rcs) != 2 || rcs[0].ID != "b-1" || rcs[1].ID == "" || rcs[1].Seq != rcs[0].Seq+1 {
			t.Fatalf("receipts %+v", rcs)
		}
		p := h.read(sub, "laps", fmt.Sprintf("after_seq=%d", rcs[0].Seq-1))
		if len(p.events) != 2 || p.events[0].Type != "stadion.topic.laps" || p.events[1].Type != "custom" ||
			p.events[1].ID != rcs[1].ID || p.events[1].Subject != "AUT-2" {
			t.Errorf("events %+v", p.events)
		}
	})
}

func checkEnvelope(t *testing.T, got, want gotEvent) {
	t.Helper()
	got.Time, got.Data, got.All = time.Time{}, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("envelope\n got %+v\nwant %+v", got, want)
	}
}

func assertJSONEqual(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("data %s, want %s", got, want)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	h := newHarness(t)
	pub, sub := h.key("pub"), h.key("sub")
	for _, tc := range []struct{ name, ct, body string }{
		{"plain", ctJSON, `[` + goodLap + `,` + goodLap + `,{"athlete":"NOR-1"}]`},
		{"cloudevents", ctCloudEventBat, `[{"specversion":"1.0","data":` + goodLap + `},{"specversion":"1.0","data":{}}]`},
		{"cloudevents bad attribute", ctCloudEventBat, `[{"specversion":"1.0","data":` + goodLap + `},{"specversion":"2","data":` + goodLap + `}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.as(t)
			r := h.publish(pub, "laps", tc.body, "Content-Type", tc.ct)
			problem(t, r, http.StatusBadRequest, "/v1/topics/laps/events")
			if n := h.stored("laps"); n != 0 {
				t.Fatalf("a rejected batch stored %d events", n)
			}
		})
	}
	r := h.publish(pub, "laps", `[`+goodLap+`,`+goodLap+`,`+goodLap+`]`)
	if r.status != http.StatusAccepted {
		t.Fatalf("good batch: %d %s", r.status, r.body)
	}
	var rcs []Receipt
	r.decode(t, &rcs)
	if len(rcs) != 3 {
		t.Fatalf("receipts %s", r.body)
	}
	for i, rc := range rcs {
		if rc.Seq != uint64(i+1) || rc.Duplicate {
			t.Errorf("receipt %d: %+v", i, rc)
		}
	}
	if got := h.readAll(sub, "laps"); len(got) != 3 {
		t.Errorf("read %d events, want 3", len(got))
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	pub := h.key("pub")

	t.Run("single", func(t *testing.T) {
		h := h.as(t)
		first := h.mustPublish(pub, "laps", goodLap, "Idempotency-Key", "lap-1")
		before := h.stored("laps")
		for range 3 {
			again := h.mustPublish(pub, "laps", goodLap, "Idempotency-Key", "lap-1")
			if again.ID != first.ID || again.Seq != first.Seq || !again.Duplicate {
				t.Fatalf("retry %+v, want the original %+v marked duplicate", again, first)
			}
		}
		if n := h.stored("laps"); n != before {
			t.Errorf("retries stored %d new events", n-before)
		}
		// Another key stores a new event.
		next := h.mustPublish(pub, "laps", goodLap, "Idempotency-Key", "lap-2")
		if next.ID == first.ID || next.Seq == first.Seq || next.Duplicate {
			t.Errorf("a new key was treated as a retry: %+v", next)
		}
	})

	t.Run("batch", func(t *testing.T) {
		h := h.as(t)
		body := `[` + goodLap + `,{"athlete":"SWE-2","n":2,"ms":2},{"athlete":"SWE-3","n":3,"ms":3}]`
		var first, again []Receipt
		r := h.publish(pub, "laps", body, "Idempotency-Key", "batch-1")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r.decode(t, &first)
		before := h.stored("laps")
		r = h.publish(pub, "laps", body, "Idempotency-Key", "batch-1")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r.decode(t, &again)
		if len(again) != len(first) {
			t.Fatalf("retry has %d receipts, want %d", len(again), len(first))
		}
		for i := range first {
			if again[i].ID != first[i].ID || again[i].Seq != first[i].Seq || !again[i].Duplicate {
				t.Errorf("receipt %d: retry %+v, original %+v", i, again[i], first[i])
			}
		}
		if n := h.stored("laps"); n != before {
			t.Errorf("the retried batch stored %d new events", n-before)
		}
	})

	t.Run("cloudevent id", func(t *testing.T) {
		h := h.as(t)
		body := `{"specversion":"1.0","id":"dedupe-me","data":` + goodLap + `}`
		first := h.mustPublish(pub, "laps", body, "Content-Type", ctCloudEvent)
		before := h.stored("laps")
		again := h.mustPublish(pub, "laps", body, "Content-Type", ctCloudEvent)
		if again.Seq != first.Seq || again.ID != "dedupe-me" || !again.Duplicate {
			t.Errorf("retry %+v, original %+v", again, first)
		}
		if n := h.stored("laps"); n != before {
			t.Errorf("the retried CloudEvent stored %d new events", n-before)
		}
	})

	t.Run("keys are per client", func(t *testing.T) {
		h := h.as(t)
		other := h.key("other")
		a := h.mustPublish(pub, "notes", `1`, "Idempotency-Key", "shared")
		b := h.mustPublish(other, "notes", `2`, "Idempotency-Key", "shared")
		if a.Seq == b.Seq || b.Duplicate {
			t.Errorf("another client's Idempotency-Key suppressed an event: %+v %+v", a, b)
		}
	})
}
