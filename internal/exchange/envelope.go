package exchange

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Event is a CloudEvents 1.0 envelope as stadion stores it: structured JSON
// mode, data always JSON. The stream sequence is added as the extension
// attribute "seq" when the event is read back.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataSchema      string          `json:"dataschema,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	// Extensions are further attributes given by the producer.
	Extensions map[string]any `json:"-"`
}

// envelopeCore has Event's members without its methods, for encoding.
type envelopeCore Event

// MarshalJSON writes the envelope with its extensions as top-level members.
func (e Event) MarshalJSON() ([]byte, error) {
	core, err := json.Marshal(envelopeCore(e))
	if err != nil || len(e.Extensions) == 0 {
		return core, err
	}
	var buf bytes.Buffer
	buf.Write(core[:len(core)-1])
	keys := make([]string, 0, len(e.Extensions))
	for k := range e.Extensions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := json.Marshal(e.Extensions[k])
		if err != nil {
			return nil, err
		}
		buf.WriteString(`,"` + k + `":`)
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// withSeq returns a stored envelope with "seq":N added. Stored envelopes are
// always compact JSON objects written by MarshalJSON, so this splices.
func withSeq(stored []byte, seq uint64) json.RawMessage {
	if len(stored) < 2 || stored[len(stored)-1] != '}' {
		return stored
	}
	out := make([]byte, 0, len(stored)+24)
	out = append(out, stored[:len(stored)-1]...)
	out = append(out, `,"seq":`...)
	out = strconv.AppendUint(out, seq, 10)
	return append(out, '}')
}
