package delivery

import (
	"encoding/json"
	"fmt"
	"time"

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

func describe(v any) string {
	raw, _ := json.Marshal(v)
	if len(raw) > 40 {
		raw = append(raw[:37], "..."...)
	}
	return string(raw)
}
