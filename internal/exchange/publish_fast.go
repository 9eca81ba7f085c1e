package exchange

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/api"
)

// prepareFast is the publish path of a plain JSON body whose events are
// all valid, in one read of each event: the tape (tape.go), which is also
// the strict check and splits a batch, the compiled schema
// (schema_fast.go), the key read off the tape, the envelope. It reports
// false, having decided nothing, for anything else: a body the strict
// check refuses, a topic whose schema has no fast path, an event the fast
// path finds invalid or cannot decide, a key it cannot read. The caller
// then takes the full path (decodeBody, prepare), which words every error.
func (x *Exchange) prepareFast(t *topic, client string, body []byte, idem string) (out []outgoing, batch, ok bool) {
	if t.schema != nil && t.schema.fast == nil {
		return nil, false, false
	}
	f := fastBatch{x: x, t: t, client: client, idem: idem, now: time.Now().UTC(), source: "/clients/" + client}
	if t.cfg.Key != "" {
		f.keyTokens = api.PointerTokens(t.cfg.Key)
	}
	f.scratch = compactBufs.Get().(*[]byte)
	defer putCompactBuf(f.scratch)
	if !isArray(body) {
		tp, err := readTape(body)
		if err != nil {
			return nil, false, false
		}
		defer putTape(tp)
		if !f.add(tp, body) {
			return nil, false, false
		}
		return f.out, false, true
	}
	f.batch = true
	ok = eachElement(body, func(tp *tape, raw []byte) bool {
		return len(f.out) < maxBatch && f.add(tp, raw)
	})
	if !ok {
		return nil, true, false
	}
	return f.out, true, true
}

// eachElement splits body, a top-level JSON array, as
// api.CheckJSONArray does, reads each element onto a strict tape and
// calls fn with it and the element's bytes (no surrounding white space).
// It reports false if body is not a strict JSON array, is empty, or fn
// returned false.
func eachElement(body []byte, fn func(tp *tape, raw []byte) bool) bool {
	sp := tape{buf: body}
	i := sp.skipWS(0)
	if i >= len(body) || body[i] != '[' {
		return false
	}
	i = sp.skipWS(i + 1)
	if i >= len(body) || body[i] == ']' {
		return false // empty: the full path decides
	}
	for {
		tp, end, err := readElement(body, i)
		if err != nil {
			return false
		}
		ok := fn(tp, body[i:end])
		putTape(tp)
		if !ok {
			return false
		}
		if i = sp.skipWS(end); i >= len(body) {
			return false
		}
		switch body[i] {
		case ']':
			return sp.skipWS(i+1) == len(body)
		case ',':
			i = sp.skipWS(i + 1)
		default:
			return false
		}
	}
}

// fastBatch collects the envelopes of one request on the fast path.
type fastBatch struct {
	x            *Exchange
	t            *topic
	client, idem string
	now          time.Time
	batch        bool
	source       string   // the envelopes' source
	keyTokens    []string // the topic's key pointer, split
	scratch      *[]byte
	out          []outgoing
}

// add checks one event (raw, read onto tp) and seals its envelope.
func (f *fastBatch) add(tp *tape, raw []byte) bool {
	key, ok := f.t.checkFast(tp, f.keyTokens)
	if !ok {
		return false
	}
	// compact(raw), without its search for line breaks (the tape saw
	// them or not), from the tape's tokens rather than a scan of the
	// bytes, into a reused buffer: the envelope copies it.
	data := bytes.TrimSpace(raw)
	if tp.pretty {
		*f.scratch = tp.appendCompact((*f.scratch)[:0], 0)
		data = *f.scratch
	}
	ev := Event{
		SpecVersion: "1.0", ID: nuid.Next(), Source: f.source, Type: f.t.cfg.Type,
		Time: f.now, DataContentType: ctJSON, Data: data,
	}
	if f.t.schema != nil {
		ev.DataSchema = f.t.schema.ID
	}
	o := f.x.sealEnvelope(f.t, ev, key)
	o.msgID = dedupeID(f.client, f.idem, "", len(f.out), f.batch)
	f.out = append(f.out, o)
	return true
}

// compactBufs holds the buffers prepareFast compacts events into.
var compactBufs = sync.Pool{New: func() any { return new([]byte) }}

func putCompactBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		compactBufs.Put(b)
	}
}

// checkFast validates one event's data on its tape and reads its key
// (keyTokens: the topic's key pointer, split by api.PointerTokens).
func (t *topic) checkFast(tp *tape, keyTokens []string) (key string, ok bool) {
	if t.schema != nil && t.schema.fast.check(tp, 0) != vYes {
		return "", false
	}
	if t.cfg.Key == "" {
		return "", true
	}
	return tp.keyAt(keyTokens)
}

// key reads a topic key (an RFC 6901 pointer) as extractKey does: a
// string of 1-256 bytes or an integer, as written.
func (tp *tape) key(pointer string) (string, bool) { return tp.keyAt(api.PointerTokens(pointer)) }

// keyAt is key with the pointer split by api.PointerTokens.
func (tp *tape) keyAt(tokens []string) (string, bool) {
	i := 0
	for _, tok := range tokens {
		switch n := &tp.nodes[i]; n.kind {
		case '{':
			j, found := tp.member(i, tok)
			if !found {
				return "", false
			}
			i = j
		case '[':
			idx, err := strconv.Atoi(tok)
			if err != nil || idx < 0 || idx >= int(n.count) {
				return "", false
			}
			i++
			for range idx {
				i = int(tp.nodes[i].next)
			}
		default:
			return "", false
		}
	}
	n := &tp.nodes[i]
	switch n.kind {
	case '"':
		s, ok := tp.strValue(n)
		if !ok || s == "" || len(s) > 256 {
			return "", false
		}
		return s, true
	case '0':
		s := string(tp.raw(n))
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return "", false
		}
		return s, true
	}
	return "", false
}
