package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// tableFor builds a sink's table: key columns first, then the others by
// name. A column's type is the declared one, else the one the topic's JSON
// schema gives its pointer, else text.
func tableFor(sc *config.Sink, schema []byte) *Table {
	var doc any
	_ = json.Unmarshal(schema, &doc)
	names := make([]string, 0, len(sc.Columns))
	for col := range sc.Columns {
		if !slices.Contains(sc.Key, col) {
			names = append(names, col)
		}
	}
	slices.Sort(names)
	t := &Table{Name: sc.Table, Key: sc.Key}
	for _, col := range append(slices.Clone(sc.Key), names...) {
		typ, ok := sc.Types[col]
		if !ok {
			typ = inferType(doc, sc.Columns[col])
		}
		t.Columns = append(t.Columns, Column{Name: col, Type: typ})
	}
	return t
}

// inferType follows pointer through the schema's "properties".
func inferType(schema any, pointer string) config.ColumnType {
	node, _ := schema.(map[string]any)
	for _, tok := range api.PointerTokens(pointer) {
		props, _ := node["properties"].(map[string]any)
		node, _ = props[tok].(map[string]any)
	}
	typ, _ := node["type"].(string)
	if list, ok := node["type"].([]any); ok {
		for _, v := range list {
			if s, _ := v.(string); s != "null" {
				typ = s
			}
		}
	}
	switch typ {
	case "string":
		if node["format"] == "date-time" {
			return config.TypeTimestamp
		}
	case "integer":
		return config.TypeBigint
	case "number":
		return config.TypeDouble
	case "boolean":
		return config.TypeBoolean
	case "object", "array":
		return config.TypeJSON
	}
	return config.TypeText
}

// lookup follows an RFC 6901 pointer; a missing member is nil.
func lookup(doc any, pointer string) any {
	for _, tok := range api.PointerTokens(pointer) {
		switch c := doc.(type) {
		case map[string]any:
			doc = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			doc = c[i]
		default:
			return nil
		}
	}
	return doc
}

// rowMapper turns stored CloudEvents into rows of a table.
type rowMapper struct {
	table    *Table
	pointers []string // per column
	set      *pointerSet
}

func newRowMapper(t *Table, sc *config.Sink) *rowMapper {
	m := &rowMapper{table: t}
	for _, c := range t.Columns {
		m.pointers = append(m.pointers, sc.Columns[c.Name])
	}
	m.set = newPointerSet(m.pointers)
	return m
}

// row maps one stored envelope; an event that cannot fit the table is a
// permanent error. The pointers are resolved straight from the bytes (see
// pointerSet); a document the scanner gives up on, and every error, goes
// the encoding/json way (rowSlow), so both always agree.
func (m *rowMapper) row(payload []byte, seq uint64) (Row, error) {
	var stack [16]span
	var res []span
	if n := len(m.pointers); n > len(stack) {
		res = make([]span, n)
	} else {
		res = stack[:n]
	}
	if !m.set.resolve(payload, res) {
		return m.rowSlow(payload, seq)
	}
	r := Row{Seq: seq, Values: make([]any, len(m.pointers))}
	for i, sp := range res {
		if sp.start < 0 {
			continue // missing: NULL
		}
		v, ok := convertRaw(payload[sp.start:sp.end], m.table.Columns[i].Type)
		if !ok {
			return m.rowSlow(payload, seq)
		}
		r.Values[i] = v
	}
	return r, nil
}

// rowSlow is row through encoding/json: the reference the fast path agrees
// with, and the one that words errors.
func (m *rowMapper) rowSlow(payload []byte, seq uint64) (Row, error) {
	var env struct {
		Data any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return Row{}, permanent(fmt.Errorf("not a CloudEvent: %w", err))
	}
	data := env.Data
	r := Row{Seq: seq, Values: make([]any, len(m.pointers))}
	for i, p := range m.pointers {
		v, err := convert(lookup(data, p), m.table.Columns[i].Type)
		if err != nil {
			return Row{}, permanent(fmt.Errorf("column %s (%s): %w", m.table.Columns[i].Name, p, err))
		}
		r.Values[i] = v
	}
	return r, nil
}
