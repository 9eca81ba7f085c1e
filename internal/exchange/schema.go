package exchange

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/stadion-dev/stadion/internal/api"
)

// Schema validates event data against a topic's JSON Schema (2020-12 by
// default). Safe for concurrent use.
type Schema struct {
	ID  string // the schema's $id, or a stadion URN
	Raw []byte // the schema document as configured
	sch *jsonschema.Schema
	// fast checks valid events without decoding them (schema_fast.go);
	// nil where the schema uses what it does not handle.
	fast *fastSchema
}

// CompileSchema compiles a schema document. Formats (date-time, email...)
// are asserted, and references outside the document are refused: a topic's
// schema must not make the server fetch anything.
func CompileSchema(topic string, raw []byte) (*Schema, error) {
	if err := api.CheckJSON(raw); err != nil {
		return nil, fmt.Errorf("schema is not strict JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	id := "urn:stadion:schema:" + topic
	if m, ok := doc.(map[string]any); ok {
		if s, ok := m["$id"].(string); ok && s != "" {
			id = s
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	c.RegisterVocabulary(safeIntegerVocab)
	c.AssertVocabs()
	if err := c.AddResource(id, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(id)
	if err != nil {
		return nil, err
	}
	fast, _ := compileFast(raw) // no fast path: every event takes the library's
	return &Schema{ID: id, Raw: raw, sch: sch, fast: fast}, nil
}

type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema references %s: only references inside the schema are allowed", url)
}

// Validate checks v (decoded with jsonschema.UnmarshalJSON or UseNumber)
// and returns every violation, with its JSON pointer prefixed by at.
func (s *Schema) Validate(v any, at string) []api.FieldError {
	if s == nil {
		return nil
	}
	err := s.sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []api.FieldError{{Pointer: at, Message: err.Error()}}
	}
	return flattenErrors(ve, at)
}

// errorPrinter renders messages the way the library's own output does.
var errorPrinter = message.NewPrinter(language.English)

// flattenErrors lists every error of a validation, sorted by pointer,
// without the "validation failed" summaries of a schema or $ref with
// failures below it (those are listed instead). It walks the error tree
// rather than the library's basic output, which replaces the message of an
// error reached through a $ref with "validation failed".
func flattenErrors(ve *jsonschema.ValidationError, at string) []api.FieldError {
	var errs []api.FieldError
	seen := map[api.FieldError]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 || !isSummary(e.ErrorKind) {
			fe := api.FieldError{Pointer: at + instancePointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(errorPrinter)}
			if !seen[fe] {
				seen[fe] = true
				errs = append(errs, fe)
			}
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Pointer < errs[j].Pointer })
	return errs
}

// instancePointer is the JSON pointer of an instance location.
func instancePointer(tokens []string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteByte('/')
		b.WriteString(api.PointerToken(tok))
	}
	return b.String()
}

// isSummary reports the error kinds that only say "the errors below me
// failed": a schema with several failures, a $ref, the document's schema.
func isSummary(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.Group, *kind.Reference, *kind.Schema:
		return true
	}
	return false
}
