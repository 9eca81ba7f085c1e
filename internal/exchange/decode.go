package exchange

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
)

// Content types accepted by the publish endpoint.
const (
	ctJSON          = "application/json"
	ctCloudEvent    = "application/cloudevents+json"
	ctCloudEventBat = "application/cloudevents-batch+json"
)

var acceptedTypes = []string{ctJSON, ctCloudEvent, ctCloudEventBat}

// maxBatch is the most events one request may carry.
const maxBatch = 1000

// incoming is one event of a publish request after decoding, before
// validation against the topic.
type incoming struct {
	at    string          // JSON pointer of this event in the body ("" or "/3")
	data  json.RawMessage // the data, as sent
	value any             // the data decoded with json.Number
	// Attributes a structured CloudEvent brought (all optional).
	id, typ, subject string
	time             time.Time
	ext              map[string]any
}

// dataPointer is where the event's data sits in the body.
func (in *incoming) dataPointer(structured bool) string {
	if structured {
		return in.at + "/data"
	}
	return in.at
}

// decodeBody turns a publish body into events. It reports whether the body
// was a batch and whether events were structured CloudEvents. Every error is
// a *api.Problem (400 with pointers, or 415).
func decodeBody(mediaType string, body []byte) (events []incoming, batch, structured bool, err error) {
	if mediaType != ctJSON && mediaType != ctCloudEvent && mediaType != ctCloudEventBat {
		return nil, false, false, api.UnsupportedMediaType(mediaType, acceptedTypes...)
	}
	// One pass over the bytes before any decoding, which also splits a
	// batch: duplicate member names, numbers beyond a double, invalid
	// UTF-8 (which encoding/json would quietly replace in what is
	// validated while the raw bytes were stored) are refused with the
	// pointer of the offending value.
	if mediaType == ctCloudEventBat || (mediaType == ctJSON && isArray(body)) {
		items, err := api.CheckJSONArray(body)
		if err != nil {
			return nil, true, mediaType != ctJSON, api.MalformedJSON(err)
		}
		if mediaType == ctJSON {
			events, err = decodePlainBatch(items)
		} else {
			events, err = decodeCloudEventBatch(items)
		}
		return events, true, mediaType != ctJSON, err
	}
	if err := api.CheckJSON(body); err != nil {
		return nil, false, mediaType != ctJSON, api.MalformedJSON(err)
	}
	if mediaType == ctJSON {
		v, err := decodeValue(body)
		if err != nil {
			return nil, false, false, malformed(err)
		}
		return []incoming{{data: compact(body), value: v}}, false, false, nil
	}
	ev, errs := decodeCloudEvent(body, "")
	if len(errs) > 0 {
		return nil, false, true, invalid(errs)
	}
	return []incoming{ev}, false, true, nil
}

func invalid(errs []api.FieldError) *api.Problem {
	p := api.BadRequest(fmt.Sprintf("%d problem(s) in the request body", len(errs)))
	p.Type, p.Title = "https://stadion.dev/problems/invalid-event", "Invalid event"
	p.Errors = errs
	return p
}

func malformed(err error) *api.Problem { return api.MalformedJSON(err) }

// decodePlainBatch reads the items of an application/json array, each
// one event's data.
func decodePlainBatch(items [][]byte) ([]incoming, error) {
	if err := checkBatchSize(len(items)); err != nil {
		return nil, err
	}
	out := make([]incoming, len(items))
	for i, raw := range items {
		v, err := decodeValue(raw)
		if err != nil {
			return nil, malformed(err)
		}
		out[i] = incoming{at: "/" + strconv.Itoa(i), data: compact(raw), value: v}
	}
	return out, nil
}

// decodeCloudEventBatch reads the items of a CloudEvents batch.
func decodeCloudEventBatch(items [][]byte) ([]incoming, error) {
	if err := checkBatchSize(len(items)); err != nil {
		return nil, err
	}
	out := make([]incoming, len(items))
	var errs []api.FieldError
	for i, raw := range items {
		ev, e := decodeCloudEvent(raw, "/"+strconv.Itoa(i))
		errs = append(errs, e...)
		out[i] = ev
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return out, nil
}

func checkBatchSize(n int) error {
	switch {
	case n == 0:
		return api.BadRequest("the batch is empty")
	case n > maxBatch:
		return api.BadRequest(fmt.Sprintf("the batch has %d events; at most %d are allowed per request", n, maxBatch))
	}
	return nil
}

// extName is the shape CloudEvents 1.0 requires of attribute names.
var extName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// ceKnown are the context attributes decodeCloudEvent handles itself.
var ceKnown = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"dataschema": true, "datacontenttype": true, "data": true, "data_base64": true,
}

// decodeCloudEvent reads one structured CloudEvent at pointer at. The
// producer's source and dataschema are replaced by stadion's (the
// authenticated client, the topic's schema); "seq" is reserved.
func decodeCloudEvent(raw []byte, at string) (incoming, []api.FieldError) {
	var m map[string]json.RawMessage
	if err := strictUnmarshal(raw, &m); err != nil {
		return incoming{}, []api.FieldError{{Pointer: at, Message: "not a JSON object: " + err.Error()}}
	}
	in := incoming{at: at}
	var errs []api.FieldError
	fail := func(field, msg string) { errs = append(errs, api.FieldError{Pointer: at + "/" + field, Message: msg}) }
	if sv := stringAttr(m, "specversion"); sv != "1.0" {
		fail("specversion", `must be "1.0"`)
	}
	if _, ok := m["data_base64"]; ok {
		fail("data_base64", "binary data is not accepted; send JSON in data")
	}
	if ct := stringAttr(m, "datacontenttype"); ct != "" && api.MediaType(ct) != ctJSON {
		fail("datacontenttype", "must be application/json")
	}
	raw, ok := m["data"]
	if !ok {
		fail("data", "required")
	} else if v, err := decodeValue(raw); err != nil {
		fail("data", "not valid JSON: "+err.Error())
	} else {
		in.data, in.value = compact(raw), v
	}
	in.readAttrs(m, fail)
	return in, errs
}

func (in *incoming) readAttrs(m map[string]json.RawMessage, fail func(field, msg string)) {
	in.id = stringAttr(m, "id")
	if _, ok := m["id"]; ok && (in.id == "" || len(in.id) > 256 || hasControl(in.id)) {
		fail("id", "must be a non-empty string of at most 256 characters without control characters")
	}
	in.typ = stringAttr(m, "type")
	if _, ok := m["type"]; ok && in.typ == "" {
		fail("type", "must be a non-empty string")
	}
	in.subject = stringAttr(m, "subject")
	if ts := stringAttr(m, "time"); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			fail("time", "must be an RFC 3339 timestamp")
		}
		in.time = t
	}
	for name, raw := range m {
		if ceKnown[name] {
			continue
		}
		if name == "seq" || !extName.MatchString(name) {
			fail(api.PointerToken(name), "extension attribute names are 1-20 lower-case letters or digits; seq is reserved")
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			continue
		}
		switch v.(type) {
		case string, float64, bool:
			if in.ext == nil {
				in.ext = map[string]any{}
			}
			in.ext[name] = v
		default:
			fail(name, "extension attributes must be strings, numbers or booleans")
		}
	}
}

// hasControl reports control characters, which must never reach the
// engine's message headers (the id becomes part of Nats-Msg-Id).
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func stringAttr(m map[string]json.RawMessage, name string) string {
	var s string
	if raw, ok := m[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// decodeValue decodes one JSON document with json.Number, refusing
// trailing data.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func strictUnmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func isArray(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '['
}

// compact removes insignificant white space so stored envelopes stay
// small. Only pretty-printed JSON (line breaks, tabs) is worth the pass: a
// stray space after a colon costs a byte, the pass costs a tenth of the
// publish path.
func compact(raw []byte) json.RawMessage {
	if !bytes.ContainsAny(raw, "\n\r\t") {
		return bytes.TrimSpace(raw)
	}
	return compactChecked(raw)
}

// compactChecked removes white space outside strings from raw, which
// api.CheckJSON accepted (so strings are closed and escapes well formed):
// a plain copy loop, a fraction of json.Compact's state machine.
func compactChecked(raw []byte) []byte {
	return appendCompact(make([]byte, 0, len(raw)), raw)
}

// appendCompact appends raw without white space outside strings to out,
// copying each run between white space at once.
func appendCompact(out, raw []byte) []byte {
	from := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			out = append(out, raw[from:i]...)
			from = i + 1
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		}
	}
	if from < len(raw) {
		out = append(out, raw[from:]...)
	}
	return out
}
