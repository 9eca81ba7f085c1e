package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

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
	addl       *fastSchema
	items      *fastSchema
	unique     bool
	minItems   int
	maxItems   int
	minLen     int
	maxLen     int
	minProps   int
	maxProps   int
	pattern    *regexp.Regexp
	enum       []scalar
	hasEnum    bool
	lo, hi     *int64             // numeric bounds as inclusive integer limits
	bounds     []ratBound         // the same bounds, for every other number
	format     *jsonschema.Schema // the library's check of this format alone
	ref        string
	refTo      *fastSchema
	allOf      []*fastSchema
	ifS, thenS *fastSchema
	elseS      *fastSchema
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
		fs.pattern, err = regexp.Compile(s) // the library's default engine
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
		fs.format, err = c.formatChecker(s)
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

// maxCheckDepth bounds the schemas applied to one value through
// references (a schema may refer to itself).
const maxCheckDepth = 256

// check validates the value at node i of tp.
func (fs *fastSchema) check(tp *tape, i int) verdict { return fs.checkAt(tp, i, 0) }

func (fs *fastSchema) checkAt(tp *tape, i, depth int) verdict {
	if depth > maxCheckDepth || fs.ref != "" && fs.refTo == nil {
		return vUnsure
	}
	depth++
	if fs.bool != nil {
		if *fs.bool {
			return vYes
		}
		return vNo
	}
	n := &tp.nodes[i]
	v := fs.checkType(tp, n)
	if v == vNo {
		return vNo
	}
	switch n.kind {
	case '{':
		v = v.and(fs.checkObject(tp, i, depth))
	case '[':
		v = v.and(fs.checkArray(tp, i, depth))
	case '"':
		v = v.and(fs.checkString(tp, n))
	case '0':
		v = v.and(fs.checkNumber(tp, n))
	}
	if fs.hasEnum {
		v = v.and(fs.checkEnum(tp, n))
	}
	if fs.refTo != nil {
		v = v.and(fs.refTo.checkAt(tp, i, depth))
	}
	for _, s := range fs.allOf {
		v = v.and(s.checkAt(tp, i, depth))
	}
	if fs.ifS != nil {
		switch fs.ifS.checkAt(tp, i, depth) {
		case vYes:
			if fs.thenS != nil {
				v = v.and(fs.thenS.checkAt(tp, i, depth))
			}
		case vNo:
			if fs.elseS != nil {
				v = v.and(fs.elseS.checkAt(tp, i, depth))
			}
		default:
			v = v.and(vUnsure)
		}
	}
	return v
}

func (fs *fastSchema) checkType(tp *tape, n *jnode) verdict {
	if fs.types == 0 {
		return vYes
	}
	var bit uint8
	switch n.kind {
	case '{':
		bit = tObject
	case '[':
		bit = tArray
	case '"':
		bit = tString
	case 't', 'f':
		bit = tBoolean
	case 'n':
		bit = tNull
	case '0':
		if fs.types&tNumber != 0 {
			return vYes
		}
		if _, ok := tp.int64Value(n); ok {
			bit = tInteger
		} else if fs.types&tInteger != 0 {
			return vUnsure // 1.0 and 1e2 are integers; beyond 15 digits, ±2^53 decides
		} else {
			return vNo
		}
	}
	if fs.types&bit != 0 {
		return vYes
	}
	return vNo
}

func (fs *fastSchema) checkObject(tp *tape, i, depth int) verdict {
	v := vYes
	obj := &tp.nodes[i]
	if fs.minProps >= 0 && int(obj.count) < fs.minProps || fs.maxProps >= 0 && int(obj.count) > fs.maxProps {
		return vNo
	}
	for _, name := range fs.required {
		if _, ok := tp.member(i, name); !ok {
			return vNo
		}
	}
	if fs.props == nil && fs.addl == nil {
		return v
	}
	j := i + 1
	for range obj.count {
		key := &tp.nodes[j]
		var sub *fastSchema
		var ok bool
		if key.esc {
			name, good := tp.strValue(key)
			if !good {
				return vUnsure
			}
			sub, ok = fs.props[name]
		} else {
			sub, ok = fs.props[string(tp.raw(key))]
		}
		if !ok {
			sub = fs.addl
		}
		if sub != nil {
			if v = v.and(sub.checkAt(tp, j+1, depth)); v == vNo {
				return vNo
			}
		}
		j = int(tp.nodes[j+1].next)
	}
	return v
}

func (fs *fastSchema) checkArray(tp *tape, i, depth int) verdict {
	arr := &tp.nodes[i]
	if fs.minItems >= 0 && int(arr.count) < fs.minItems || fs.maxItems >= 0 && int(arr.count) > fs.maxItems {
		return vNo
	}
	v := vYes
	if fs.items != nil {
		for j := i + 1; j < int(arr.next); j = int(tp.nodes[j].next) {
			if v = v.and(fs.items.checkAt(tp, j, depth)); v == vNo {
				return vNo
			}
		}
	}
	if fs.unique {
		v = v.and(uniqueItems(tp, i))
	}
	return v
}

// uniqueItems decides arrays of escape-free strings, integers, booleans
// and nulls exactly; anything else is unsure.
func uniqueItems(tp *tape, i int) verdict {
	seen := map[string]bool{}
	for j := i + 1; j < int(tp.nodes[i].next); j = int(tp.nodes[j].next) {
		n := &tp.nodes[j]
		var k string
		switch n.kind {
		case '"':
			if n.esc {
				return vUnsure
			}
			k = "s" + string(tp.raw(n))
		case '0':
			iv, ok := tp.int64Value(n)
			if !ok {
				return vUnsure
			}
			k = "i" + strconv.FormatInt(iv, 10)
		case 't', 'f', 'n':
			k = string(n.kind)
		default:
			return vUnsure
		}
		if seen[k] {
			return vNo
		}
		seen[k] = true
	}
	return vYes
}

func (fs *fastSchema) checkString(tp *tape, n *jnode) verdict {
	if fs.minLen < 0 && fs.maxLen < 0 && fs.pattern == nil && fs.format == nil {
		return vYes
	}
	raw := tp.raw(n)
	var s string
	if n.esc {
		var ok bool
		if s, ok = tp.strValue(n); !ok {
			return vUnsure
		}
		raw = []byte(s)
	}
	if fs.minLen >= 0 || fs.maxLen >= 0 {
		l := utf8.RuneCount(raw)
		if fs.minLen >= 0 && l < fs.minLen || fs.maxLen >= 0 && l > fs.maxLen {
			return vNo
		}
	}
	if fs.pattern != nil && !fs.pattern.Match(raw) {
		return vNo
	}
	if fs.format != nil {
		if !n.esc {
			s = string(raw)
		}
		if fs.format.Validate(s) != nil {
			return vNo
		}
	}
	return vYes
}

func (fs *fastSchema) checkNumber(tp *tape, n *jnode) verdict {
	if len(fs.bounds) == 0 {
		return vYes
	}
	if iv, ok := tp.int64Value(n); ok {
		if fs.lo != nil && iv < *fs.lo || fs.hi != nil && iv > *fs.hi {
			return vNo
		}
		return vYes
	}
	// Any other number, exactly (api.CheckJSON bounds exponents to ±999).
	r, ok := new(big.Rat).SetString(string(tp.raw(n)))
	if !ok {
		return vUnsure
	}
	for _, b := range fs.bounds {
		c := r.Cmp(b.r)
		if c != b.want && !(b.or && c == 0) {
			return vNo
		}
	}
	return vYes
}

func (fs *fastSchema) checkEnum(tp *tape, n *jnode) verdict {
	var raw []byte
	var iv int64
	switch n.kind {
	case '"':
		raw = tp.raw(n)
		if n.esc {
			s, ok := tp.strValue(n)
			if !ok {
				return vUnsure
			}
			raw = []byte(s)
		}
	case '0':
		var ok bool
		if iv, ok = tp.int64Value(n); !ok {
			for _, e := range fs.enum {
				if e.kind == '0' {
					return vUnsure // 1.0 equals 1
				}
			}
			return vNo
		}
	}
	for _, e := range fs.enum {
		if e.kind != n.kind {
			continue
		}
		switch e.kind {
		case '"':
			if string(raw) == e.s {
				return vYes
			}
		case '0':
			if e.i == iv {
				return vYes
			}
		default:
			return vYes // true, false, null
		}
	}
	return vNo
}
