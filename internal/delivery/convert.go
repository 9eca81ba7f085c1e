package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stadion-dev/stadion/internal/config"
)

// convert turns a JSON value (decoded with UseNumber) into the Go value
// for a column of type typ. Missing values (nil) stay NULL.
func convert(v any, typ config.ColumnType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case config.TypeBigint:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
		return nil, fmt.Errorf("want an integer, got %s", describe(v))
	case config.TypeDouble:
		if n, ok := v.(json.Number); ok {
			return n.Float64()
		}
		return nil, fmt.Errorf("want a number, got %s", describe(v))
	case config.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want a boolean, got %s", describe(v))
	case config.TypeTimestamp:
		if s, ok := v.(string); ok {
			if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return ts, nil
			}
		}
		return nil, fmt.Errorf("want an RFC 3339 date-time, got %s", describe(v))
	case config.TypeJSON:
		raw, err := json.Marshal(v)
		return string(raw), err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return string(x), nil
	}
	raw, err := json.Marshal(v)
	return string(raw), err
}

// convertRaw is convert for a valid JSON value's text, without decoding it
// into maps. ok is false where it leaves the value to convert: objects and
// arrays (which convert re-encodes), strings with escapes or invalid UTF-8,
// and every value that does not fit typ (convert words the error).
func convertRaw(raw []byte, typ config.ColumnType) (v any, ok bool) {
	switch c := raw[0]; {
	case c == 'n':
		return nil, true
	case c == 't' || c == 'f':
		return convertBool(c == 't', typ)
	case c == '"':
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
			return nil, false
		}
		return convertString(s, typ)
	case c == '{' || c == '[':
		return nil, false
	}
	return convertNumber(raw, typ)
}

func convertBool(b bool, typ config.ColumnType) (any, bool) {
	switch typ {
	case config.TypeBoolean:
		return b, true
	case config.TypeBigint, config.TypeDouble, config.TypeTimestamp:
		return nil, false
	}
	return strconv.FormatBool(b), true // text and json alike
}

func convertString(s []byte, typ config.ColumnType) (any, bool) {
	switch typ {
	case config.TypeTimestamp:
		ts, err := time.Parse(time.RFC3339Nano, string(s))
		return ts, err == nil
	case config.TypeBigint, config.TypeDouble, config.TypeBoolean, config.TypeJSON:
		return nil, false // json re-encodes strings (HTML escaping)
	}
	return string(s), true
}

func convertNumber(n []byte, typ config.ColumnType) (any, bool) {
	switch typ {
	case config.TypeBigint:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case config.TypeDouble:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case config.TypeBoolean, config.TypeTimestamp:
		return nil, false
	}
	return string(n), true // text and json alike
}

func describe(v any) string {
	raw, _ := json.Marshal(v)
	if len(raw) > 40 {
		raw = append(raw[:37], "..."...)
	}
	return string(raw)
}
