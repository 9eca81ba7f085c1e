package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path of validation. Decoding every event into Go values
// (encoding/json) and walking them with the jsonschema library cost about
// two thirds of the exchange's CPU per event. At start-up each topic's
// schema is compiled a second time, into a fastSchema that checks an event
// straight on its tape (tape.go): no Go values are built, strings and
// numbers are compared where they lie in the body.
//
// The fast path only ever says "valid" when the library would: it knows a
// subset of JSON Schema 2020-12 (the keywords below), and a schema with any
// other keyword gets no fast path at all. Where a value is beyond what it
// decides exactly (a number with a fraction or an exponent against a
// numeric keyword, an integer over 15 digits), its answer is "unsure".
// Anything but "valid" sends the event down the library's path, which
// decides and words the errors exactly as before. A fuzz test holds the
// two paths to this.

// verdict is the fast path's answer: valid, invalid, or unsure.
type verdict uint8

const (
	vYes verdict = iota
	vNo
	vUnsure
)

// and combines two verdicts of one value: a definite no wins.
func (v verdict) and(w verdict) verdict {
	if v == vNo || w == vNo {
		return vNo
	}
	if v == vUnsure || w == vUnsure {
		return vUnsure
	}
	return vYes
}

// JSON types as a bit set.
const (
	tObject uint8 = 1 << iota
	tArray
	tString
	tNumber
	tInteger
	tBoolean
	tNull
)

var typeBits = map[string]uint8{
	"object": tObject, "array": tArray, "string": tString, "number": tNumber,
	"integer": tInteger, "boolean": tBoolean, "null": tNull,
}

// fastSchema is one compiled schema object.
type fastSchema struct {
	bool       *bool // a boolean schema
	types      uint8 // 0: any
	props      map[string]*fastSchema
	required   []string
	names      []memberName   // props and required, for one pass over an object
	nameIdx    map[string]int // names by name, when there are many
	reqMask    uint64         // every required name's bit; 0: check by member
	addl       *fastSchema
	items      *fastSchema
	unique     bool
	minItems   int
	maxItems   int
	minLen     int
	maxLen     int
	minProps   int
	maxProps   int
	pattern    *schemaPattern
	enum       []scalar
	hasEnum    bool
	lo, hi     *int64       // numeric bounds as inclusive integer limits
	bounds     []ratBound   // the same bounds, for every other number
	format     *formatCheck // the library's check of this format (schema_format.go)
	ref        string
	refTo      *fastSchema
	allOf      []*fastSchema
	ifS, thenS *fastSchema
	elseS      *fastSchema
}

// memberName is a name the schema says something about: its properties
// schema (sub, if inProps) and its bit if required.
type memberName struct {
	name    string
	sub     *fastSchema
	inProps bool
	bit     uint64
}

// manyNames is how many names a schema looks up by map, not by scan.
const manyNames = 12

// indexNames builds names, nameIdx and reqMask from props and required.
func (fs *fastSchema) indexNames() {
	at := map[string]int{}
	for name, sub := range fs.props {
		at[name] = len(fs.names)
		fs.names = append(fs.names, memberName{name: name, sub: sub, inProps: true})
	}
	if len(fs.required) <= 64 {
		for _, name := range fs.required {
			k, ok := at[name]
			if !ok {
				k = len(fs.names)
				at[name] = k
				fs.names = append(fs.names, memberName{name: name})
			}
			if fs.names[k].bit == 0 {
				fs.names[k].bit = 1 << bits.OnesCount64(fs.reqMask)
				fs.reqMask |= fs.names[k].bit
			}
		}
	}
	if len(fs.names) > manyNames {
		fs.nameIdx = at
	}
}

// name finds a member name, or returns -1.
func (fs *fastSchema) name(n string) int {
	if fs.nameIdx != nil {
		if k, ok := fs.nameIdx[n]; ok {
			return k
		}
		return -1
	}
	for k := range fs.names {
		if fs.names[k].name == n {
			return k
		}
	}
	return -1
}

// nameBytes is name for a name on the tape, without copying it.
func (fs *fastSchema) nameBytes(n []byte) int {
	if fs.nameIdx != nil {
		if k, ok := fs.nameIdx[string(n)]; ok {
			return k
		}
		return -1
	}
	for k := range fs.names {
		if fs.names[k].name == string(n) {
			return k
		}
	}
	return -1
}

// ratBound is a numeric bound for numbers that are not short integers:
// v >= r (minimum), v > r (exclusiveMinimum), v <= r, v < r.
type ratBound struct {
	r    *big.Rat
	want int  // the sign v.Cmp(r) must have, or
	or   bool // may also be 0
}

// scalar is an enum or const member the fast path compares exactly.
type scalar struct {
	kind byte // '"', '0' (integer), 't', 'f', 'n'
	s    string
	i    int64
}

// fastCompiler compiles one schema document.
type fastCompiler struct {
	root   map[string]any
	defs   map[string]*fastSchema
	format map[string]*jsonschema.Schema
}

// compileFast compiles raw into a fast validator, or returns an error
// naming what it does not handle (the topic then validates with the
// library only).
func compileFast(raw []byte) (*fastSchema, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the schema is not an object")
	}
	if s, ok := root["$schema"]; ok && s != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("$schema %v", s)
	}
	c := &fastCompiler{root: root, defs: map[string]*fastSchema{}, format: map[string]*jsonschema.Schema{}}
	fs, err := c.compile(root, true)
	if err != nil {
		return nil, err
	}
	if err := c.link(fs, "#", 0); err != nil {
		return nil, err
	}
	return fs, nil
}

// annotations change nothing about validity.
var annotations = map[string]bool{
	"title": true, "description": true, "examples": true, "$comment": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true,
}

func (c *fastCompiler) compile(v any, root bool) (*fastSchema, error) {
	if b, ok := v.(bool); ok {
		return &fastSchema{bool: &b}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a schema is neither an object nor a boolean")
	}
	fs := &fastSchema{minItems: -1, maxItems: -1, minLen: -1, maxLen: -1, minProps: -1, maxProps: -1}
	for k, val := range m {
		if annotations[k] {
			continue
		}
		if err := c.keyword(fs, k, val, root); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	fs.indexNames()
	return fs, nil
}

func (c *fastCompiler) keyword(fs *fastSchema, k string, val any, root bool) error {
	var err error
	switch k {
	case "$schema", "$id", "$defs":
		if !root {
			return fmt.Errorf("only at the root")
		}
	case "type":
		fs.types, err = compileTypes(val)
	case "properties":
		obj, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("not an object")
		}
		fs.props = make(map[string]*fastSchema, len(obj))
		for name, sub := range obj {
			if fs.props[name], err = c.compile(sub, false); err != nil {
				return err
			}
		}
	case "required":
		list, ok := val.([]any)
		if !ok {
			return fmt.Errorf("not an array")
		}
		for _, r := range list {
			s, ok := r.(string)
			if !ok {
				return fmt.Errorf("not a string")
			}
			fs.required = append(fs.required, s)
		}
	case "additionalProperties":
		fs.addl, err = c.compile(val, false)
	case "items":
		fs.items, err = c.compile(val, false)
	case "uniqueItems":
		b, ok := val.(bool)
		if !ok {
			return fmt.Errorf("not a boolean")
		}
		fs.unique = b
	case "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties":
		err = compileCount(fs, k, val)
	case "pattern":
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("not a string")
		}
		fs.pattern, err = compileSchemaPattern(s) // schema_pattern.go
	case "enum":
		list, ok := val.([]any)
		if !ok {
			return fmt.Errorf("not an array")
		}
		fs.hasEnum = true
		for _, e := range list {
			sc, err := compileScalar(e)
			if err != nil {
				return err
			}
			fs.enum = append(fs.enum, sc)
		}
	case "const":
		sc, err := compileScalar(val)
		if err != nil {
			return err
		}
		fs.hasEnum, fs.enum = true, []scalar{sc}
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		err = compileBound(fs, k, val)
	case "format":
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("not a string")
		}
		var full *jsonschema.Schema
		if full, err = c.formatChecker(s); err == nil {
			fs.format = newFormatCheck(s, full)
		}
	case "$ref":
		s, ok := val.(string)
		if !ok || (s != "#" && !strings.HasPrefix(s, "#/$defs/")) {
			return fmt.Errorf("only #/$defs/... references")
		}
		fs.ref = s
	case "allOf":
		list, ok := val.([]any)
		if !ok || len(list) == 0 {
			return fmt.Errorf("not a non-empty array")
		}
		for _, sub := range list {
			s, err := c.compile(sub, false)
			if err != nil {
				return err
			}
			fs.allOf = append(fs.allOf, s)
		}
	case "if":
		fs.ifS, err = c.compile(val, false)
	case "then":
		fs.thenS, err = c.compile(val, false)
	case "else":
		fs.elseS, err = c.compile(val, false)
	default:
		return fmt.Errorf("not handled by the fast path")
	}
	return err
}

func compileTypes(val any) (uint8, error) {
	var names []any
	switch v := val.(type) {
	case string:
		names = []any{v}
	case []any:
		names = v
	default:
		return 0, fmt.Errorf("neither a string nor an array")
	}
	var bits uint8
	for _, n := range names {
		s, _ := n.(string)
		b, ok := typeBits[s]
		if !ok {
			return 0, fmt.Errorf("unknown type %v", n)
		}
		bits |= b
	}
	return bits, nil
}

func compileCount(fs *fastSchema, k string, val any) error {
	n, ok := val.(json.Number)
	if !ok {
		return fmt.Errorf("not a number")
	}
	i, err := strconv.Atoi(string(n))
	if err != nil || i < 0 {
		return fmt.Errorf("not a non-negative integer")
	}
	switch k {
	case "minItems":
		fs.minItems = i
	case "maxItems":
		fs.maxItems = i
	case "minLength":
		fs.minLen = i
	case "maxLength":
		fs.maxLen = i
	case "minProperties":
		fs.minProps = i
	case "maxProperties":
		fs.maxProps = i
	}
	return nil
}

// compileBound turns a numeric bound into an inclusive limit on integers,
// exactly (big.Rat): the fast path compares only integers of at most 15
// digits, and leaves every other number to the library.
func compileBound(fs *fastSchema, k string, val any) error {
	n, ok := val.(json.Number)
	if !ok {
		return fmt.Errorf("not a number")
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return fmt.Errorf("bound %s", n)
	}
	floor := new(big.Int).Quo(r.Num(), r.Denom()) // truncated towards zero
	if r.Sign() < 0 && !r.IsInt() {
		floor.Sub(floor, big.NewInt(1))
	}
	ceil := new(big.Int).Set(floor)
	if !r.IsInt() {
		ceil.Add(ceil, big.NewInt(1))
	}
	var limit *big.Int
	lower := false
	rb := ratBound{r: r}
	switch k {
	case "minimum", "exclusiveMinimum":
		rb.want, rb.or = 1, k == "minimum"
	default:
		rb.want, rb.or = -1, k == "maximum"
	}
	fs.bounds = append(fs.bounds, rb)
	switch k {
	case "minimum":
		limit, lower = ceil, true
	case "exclusiveMinimum":
		limit, lower = floor.Add(floor, big.NewInt(1)), true
	case "maximum":
		limit = floor
	case "exclusiveMaximum":
		limit = ceil.Sub(ceil, big.NewInt(1))
	}
	// Clamp far beyond any 15-digit integer.
	const far = int64(1) << 60
	l := far
	if limit.Cmp(big.NewInt(-far)) <= 0 {
		l = -far
	} else if limit.Cmp(big.NewInt(far)) < 0 {
		l = limit.Int64()
	}
	if lower {
		if fs.lo == nil || l > *fs.lo {
			fs.lo = &l
		}
	} else if fs.hi == nil || l < *fs.hi {
		fs.hi = &l
	}
	return nil
}

func compileScalar(v any) (scalar, error) {
	switch x := v.(type) {
	case string:
		return scalar{kind: '"', s: x}, nil
	case bool:
		if x {
			return scalar{kind: 't'}, nil
		}
		return scalar{kind: 'f'}, nil
	case nil:
		return scalar{kind: 'n'}, nil
	case json.Number:
		digits := strings.TrimPrefix(string(x), "-")
		if len(digits) <= 15 && !strings.ContainsAny(digits, ".eE") {
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return scalar{kind: '0', i: i}, nil
			}
		}
	}
	return scalar{}, fmt.Errorf("enum or const member %v", v)
}

// formatChecker is the library's own check of one format (asserted, as
// CompileSchema asserts formats), so both paths agree by construction.
func (c *fastCompiler) formatChecker(name string) (*jsonschema.Schema, error) {
	if s, ok := c.format[name]; ok {
		return s, nil
	}
	jc := jsonschema.NewCompiler()
	jc.DefaultDraft(jsonschema.Draft2020)
	jc.AssertFormat()
	url := "urn:stadion:format:" + name
	if err := jc.AddResource(url, map[string]any{"format": name}); err != nil {
		return nil, err
	}
	s, err := jc.Compile(url)
	if err != nil {
		return nil, err
	}
	c.format[name] = s
	return s, nil
}

// link resolves every $ref to its compiled $defs entry.
func (c *fastCompiler) link(fs *fastSchema, at string, depth int) error {
	if fs == nil {
		return nil
	}
	if depth > 64 {
		return fmt.Errorf("%s: nested deeper than 64", at)
	}
	if fs.ref != "" && fs.refTo == nil {
		target, err := c.resolve(fs.ref)
		if err != nil {
			return err
		}
		fs.refTo = target
	}
	subs := []*fastSchema{fs.addl, fs.items, fs.ifS, fs.thenS, fs.elseS}
	subs = append(subs, fs.allOf...)
	for _, p := range fs.props {
		subs = append(subs, p)
	}
	for _, s := range subs {
		if err := c.link(s, at, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *fastCompiler) resolve(ref string) (*fastSchema, error) {
	if s, ok := c.defs[ref]; ok {
		return s, nil
	}
	var doc any = c.root
	root := ref == "#"
	if !root {
		name := strings.TrimPrefix(ref, "#/$defs/")
		defs, _ := c.root["$defs"].(map[string]any)
		d, ok := defs[name]
		if !ok || strings.ContainsAny(name, "/~%") {
			return nil, fmt.Errorf("$ref %s: not found", ref)
		}
		doc = d
	}
	s, err := c.compile(doc, root)
	if err != nil {
		return nil, err
	}
	c.defs[ref] = s
	return s, c.link(s, ref, 0)
}
