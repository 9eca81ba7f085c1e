package exchange

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/stadion-dev/stadion/internal/api"
)

// Schema validates event data against a topic's JSON Schema (2020-12 by
// default). Safe for concurrent use.
type Schema struct {
	ID  string // the schema's $id, or a stadion URN
	Raw []byte // the schema document as configured
	sch *jsonschema.Schema
}

// CompileSchema compiles a schema document. Formats (date-time, email...)
// are asserted, and references outside the document are refused: a topic's
// schema must not make the server fetch anything.
func CompileSchema(topic string, raw []byte) (*Schema, error) {
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
	if err := c.AddResource(id, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(id)
	if err != nil {
		return nil, err
	}
	return &Schema{ID: id, Raw: raw, sch: sch}, nil
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
	return flattenOutput(ve.BasicOutput(), at)
}

// flattenOutput lists the leaf errors of a basic output, most specific
// first, without the "doesn't validate" summaries of parent keywords.
func flattenOutput(out *jsonschema.OutputUnit, at string) []api.FieldError {
	var errs []api.FieldError
	seen := map[api.FieldError]bool{}
	for _, u := range out.Errors {
		if u.Error == nil || isSummary(u.Error.Kind) {
			continue
		}
		fe := api.FieldError{Pointer: at + u.InstanceLocation, Message: u.Error.String()}
		if !seen[fe] {
			seen[fe] = true
			errs = append(errs, fe)
		}
	}
	if len(errs) == 0 && out.Error != nil {
		errs = append(errs, api.FieldError{Pointer: at + out.InstanceLocation, Message: out.Error.String()})
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Pointer < errs[j].Pointer })
	return errs
}

// isSummary reports the error kinds that only say "the errors listed after
// me failed" (a schema with several failures, a $ref); their causes follow
// them in the basic output.
func isSummary(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.Group, *kind.Reference, *kind.Schema:
		return true
	}
	return false
}
