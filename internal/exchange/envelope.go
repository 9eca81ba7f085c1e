package exchange

import (
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

// MarshalJSON writes the envelope with its extensions as top-level
// members. It appends rather than reflects: data is already compact,
// checked JSON, and re-scanning it was a fifth of the publish path's CPU.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.appendJSON(make([]byte, 0, 256+len(e.Data))), nil
}

func (e Event) appendJSON(b []byte) []byte {
	b = append(b, `{"specversion":`...)
	b = appendString(b, e.SpecVersion)
	b = appendMember(b, "id", e.ID)
	b = appendMember(b, "source", e.Source)
	b = appendMember(b, "type", e.Type)
	if e.Subject != "" {
		b = appendMember(b, "subject", e.Subject)
	}
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.DataSchema != "" {
		b = appendMember(b, "dataschema", e.DataSchema)
	}
	b = appendMember(b, "datacontenttype", e.DataContentType)
	b = append(b, `,"data":`...)
	if len(e.Data) == 0 {
		b = append(b, "null"...)
	}
	b = append(b, e.Data...)
	return appendExtensions(b, e.Extensions)
}

func appendExtensions(b []byte, ext map[string]any) []byte {
	keys := make([]string, 0, len(ext))
	for k := range ext {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := json.Marshal(ext[k])
		if err != nil {
			continue // only strings, numbers and booleans get here
		}
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	return append(b, '}')
}

func appendMember(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString writes s as a JSON string. Input is valid UTF-8 (the
// decoder refuses anything else), so only quotes, backslashes and control
// characters need escaping.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
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
