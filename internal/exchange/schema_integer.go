package exchange

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// maxSafeInteger is 2^53: every integer up to it in magnitude has exactly
// one IEEE 754 double, so every JSON parser reads the same value.
const maxSafeInteger = 1 << 53

// safeIntegerVocab makes "type": "integer" mean an integer a double holds
// exactly (I-JSON, RFC 7493 §2.2): 9007199254740993 would be read as
// ...992 by a JavaScript screen and a float column alike, so it is refused
// where the schema asks for an integer. Numbers elsewhere keep the range of
// a double (api.CheckJSON). The vocabulary has no keyword of its own: it
// adds the check to every schema object whose type includes "integer".
var safeIntegerVocab = &jsonschema.Vocabulary{
	URL:     "urn:stadion:vocab:safe-integer",
	Schema:  mustCompileEmpty(),
	Compile: compileSafeInteger,
}

func mustCompileEmpty() *jsonschema.Schema {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:stadion:vocab:safe-integer:meta", map[string]any{}); err != nil {
		panic(err)
	}
	return c.MustCompile("urn:stadion:vocab:safe-integer:meta")
}

func compileSafeInteger(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	switch t := obj["type"].(type) {
	case string:
		if t == "integer" {
			return safeInteger{}, nil
		}
	case []any:
		for _, v := range t {
			if v == "integer" {
				return safeInteger{}, nil
			}
		}
	}
	return nil, nil
}

type safeInteger struct{}

// Validate refuses an integer beyond ±2^53. Non-integers are left to the
// type keyword, which reports them.
func (safeInteger) Validate(ctx *jsonschema.ValidatorContext, v any) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = string(n)
	case float64:
		if n > maxSafeInteger || n < -maxSafeInteger {
			ctx.AddError(&unsafeInteger{got: fmt.Sprint(n)})
		}
		return
	default:
		return
	}
	if len(s) <= 15 && !strings.ContainsAny(s, ".eE") {
		return // at most 15 digits: always safe
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return
	}
	if r.Num().CmpAbs(big.NewInt(maxSafeInteger)) > 0 {
		ctx.AddError(&unsafeInteger{got: s})
	}
}

// unsafeInteger is the error kind of an integer beyond ±2^53.
type unsafeInteger struct{ got string }

func (*unsafeInteger) KeywordPath() []string { return []string{"type"} }

func (k *unsafeInteger) LocalizedString(p *message.Printer) string {
	got := k.got
	if len(got) > 40 {
		got = got[:40] + "…"
	}
	return p.Sprintf("integer %s is beyond ±2^53 (9007199254740992), the largest a double holds exactly", got)
}
