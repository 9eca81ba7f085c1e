package exchange

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/api"
)

// prepareFast is the publish path of a plain JSON body whose events are
// all valid, in one read of each event: the strict check (api.CheckJSON,
// which also splits a batch), the tape (tape.go), the compiled schema
// (schema_fast.go), the key read off the tape, the envelope. It reports
// false, having decided nothing, for anything else: a body the strict
// check refuses, a topic whose schema has no fast path, an event the fast
// path finds invalid or cannot decide, a key it cannot read. The caller
// then takes the full path (decodeBody, prepare), which words every error.
func (x *Exchange) prepareFast(t *topic, client string, body []byte, idem string) (out []outgoing, batch, ok bool) {
	if t.schema != nil && t.schema.fast == nil {
		return nil, false, false
	}
	items := [][]byte{body}
	if batch = isArray(body); batch {
		var err error
		if items, err = api.CheckJSONArray(body); err != nil || len(items) == 0 || len(items) > maxBatch {
			return nil, batch, false
		}
	} else if api.CheckJSON(body) != nil {
		return nil, false, false
	}
	out = make([]outgoing, len(items))
	now := time.Now().UTC()
	scratch := compactBufs.Get().(*[]byte)
	defer putCompactBuf(scratch)
	for i, raw := range items {
		key, pretty, ok := t.checkFast(raw)
		if !ok {
			return nil, batch, false
		}
		// compact(raw), without its search for line breaks (the tape saw
		// them or not) and into a reused buffer: the envelope copies it.
		data := bytes.TrimSpace(raw)
		if pretty {
			*scratch = appendCompact((*scratch)[:0], raw)
			data = *scratch
		}
		ev := Event{
			SpecVersion: "1.0", ID: nuid.Next(), Source: "/clients/" + client, Type: t.cfg.Type,
			Time: now, DataContentType: ctJSON, Data: data,
		}
		if t.schema != nil {
			ev.DataSchema = t.schema.ID
		}
		out[i] = x.sealEnvelope(t, ev, key)
		out[i].msgID = dedupeID(client, idem, "", i, batch)
	}
	return out, batch, true
}

// compactBufs holds the buffers prepareFast compacts events into.
var compactBufs = sync.Pool{New: func() any { return new([]byte) }}

func putCompactBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		compactBufs.Put(b)
	}
}

// checkFast validates one event's data on its tape and reads its key;
// pretty says whether raw has line breaks or tabs (white space compact
// removes).
func (t *topic) checkFast(raw []byte) (key string, pretty, ok bool) {
	tp, err := readTape(raw)
	if err != nil {
		return "", false, false
	}
	defer putTape(tp)
	if t.schema != nil && t.schema.fast.check(tp, 0) != vYes {
		return "", false, false
	}
	if t.cfg.Key != "" {
		key, ok = tp.key(t.cfg.Key)
		return key, tp.pretty, ok
	}
	return "", tp.pretty, true
}

// key reads a topic key (an RFC 6901 pointer) as extractKey does: a
// string of 1-256 bytes or an integer, as written.
func (tp *tape) key(pointer string) (string, bool) {
	i := 0
	if pointer != "" {
		for _, tok := range strings.Split(pointer[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
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
