package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is a problem at one place of a configuration file: its line,
// the field's path and what is wrong. Load puts the file's name in front
// (stadion.yaml:3: unknown field "durabilty"; did you mean "durability"?).
type FieldError struct {
	File  string // the file's name, when known
	Line  int
	Field string // dotted path of the field (exchange.max_body)
	Msg   string
	err   error
}

func (e *FieldError) Unwrap() error { return e.err }

func (e *FieldError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// inFile names file in every FieldError of err.
func inFile(err error, file string) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.File = file
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			inFile(e, file)
		}
	}
	return err
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// unknownFields walks the document against the yaml tags of Config and
// returns one FieldError per key that names no field, with the nearest
// valid name. It is generic: every section, present and future, is
// checked the same way.
func unknownFields(data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil // the decoder reports syntax errors with their line
	}
	var errs []error
	walkFields(&root, reflect.TypeFor[Config](), "", &errs)
	return errors.Join(errs...)
}

func walkFields(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			walkFields(c, t, path, errs)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: its mapping holds this struct's fields
				walkFields(v, t, path, errs)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, unknownField(k, path, fields))
				continue
			}
			walkFields(v, ft, join(path, k.Value), errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkFields(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			walkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func unknownField(k *yaml.Node, path string, fields map[string]reflect.Type) error {
	msg := fmt.Sprintf("unknown field %q", k.Value)
	if path != "" {
		msg += " in " + path
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	if s := nearest(k.Value, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; valid fields: " + strings.Join(names, ", ")
	}
	return &FieldError{Line: k.Line, Field: join(path, k.Value), Msg: msg}
}

// yamlFields maps the yaml names of t's fields (inline structs included)
// to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
		case strings.Contains(opts, "inline"):
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
		case name == "":
			out[strings.ToLower(f.Name)] = f.Type
		default:
			out[name] = f.Type
		}
	}
	return out
}

// nearest returns the name closest to s by Damerau–Levenshtein distance,
// if it is close enough to be a likely typo; "" otherwise.
func nearest(s string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), n); d < bestD {
			best, bestD = n, d
		}
	}
	if limit := max(1, len(s)/3); bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment Damerau–Levenshtein
// distance: insertions, deletions, substitutions and swaps of neighbours.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// placeFields gives every error of Validate that starts with a field path
// present in the file the line of that field, so that the file's name and
// line can be put in front of it.
func placeFields(data []byte, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	byLine := map[int][]string{}
	collectFields(&root, "", byLine)
	lines := map[string]int{}
	for line, paths := range byLine {
		for _, p := range paths {
			if old, ok := lines[p]; !ok || line < old {
				lines[p] = line
			}
		}
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		field, _, _ := strings.Cut(e.Error(), ": ")
		// The field itself, or the nearest of its parents that the file has
		// (a required field that is missing is reported on its section).
		for p := field; p != ""; p = p[:max(strings.LastIndexAny(p, ".["), 0)] {
			if line, ok := lines[p]; ok {
				e = &FieldError{Line: line, Field: field, Msg: e.Error(), err: e}
				break
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}
