package inspect

import (
	"strings"
)

// parseScript splits a `sh -c` script into simple commands and expands
// their words the way a POSIX shell would for the cases that matter here:
// quotes, backslashes, $VAR, ${VAR}, ${VAR:-default}, field splitting of
// unquoted expansions, assignments and `export`. A command substitution
// or a variable the manifests do not define makes its word dynamic.
func parseScript(script, source string, lookup lookupFunc) [][]word {
	p := &scriptParser{s: script, source: source, lookup: lookup, vars: map[string]string{}}
	return p.parse()
}

type scriptParser struct {
	s      string
	i      int
	source string
	lookup lookupFunc
	vars   map[string]string // assigned in the script itself

	stmts [][]word
	cur   []word
	w     strings.Builder
	wsrc  string
	wdyn  bool
	inw   bool
}

func (p *scriptParser) parse() [][]word {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t':
			p.endWord()
			p.i++
		case c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
			p.endWord()
			p.endStmt()
			p.i++
		case c == '#' && !p.inw:
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == '\\':
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
				p.i += 2
				continue
			}
			if p.i+1 < len(p.s) {
				p.add(string(p.s[p.i+1]))
			}
			p.i += 2
		case c == '\'':
			end := strings.IndexByte(p.s[p.i+1:], '\'')
			if end < 0 {
				end = len(p.s) - p.i - 1
			}
			p.add(p.s[p.i+1 : p.i+1+end])
			p.inw = true
			p.i += end + 2
		case c == '"':
			p.doubleQuoted()
		case c == '$' || c == '`':
			p.expansion(false)
		default:
			p.add(string(c))
			p.i++
		}
	}
	p.endWord()
	p.endStmt()
	return p.stmts
}

func (p *scriptParser) add(s string) {
	p.w.WriteString(s)
	p.inw = true
}

func (p *scriptParser) endWord() {
	if !p.inw {
		return
	}
	src := p.wsrc
	if src == "" {
		src = p.source
	}
	p.cur = append(p.cur, word{text: p.w.String(), source: src, dynamic: p.wdyn})
	p.w.Reset()
	p.inw, p.wsrc, p.wdyn = false, "", false
}

// endStmt finishes a simple command: leading assignments and `export`
// set script variables; anything left is a command.
func (p *scriptParser) endStmt() {
	words := p.cur
	p.cur = nil
	if len(words) > 0 && (words[0].text == "export" || words[0].text == "readonly" || words[0].text == "local") {
		for _, w := range words[1:] {
			p.assign(w.text)
		}
		return
	}
	for len(words) > 0 && isAssignment(words[0].text) {
		p.assign(words[0].text)
		words = words[1:]
	}
	if len(words) > 0 {
		p.stmts = append(p.stmts, words)
	}
}

func (p *scriptParser) assign(s string) {
	if name, v, ok := strings.Cut(s, "="); ok && isName(name) {
		p.vars[name] = v
	}
}

func isAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	return ok && isName(name)
}

func isName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func (p *scriptParser) doubleQuoted() {
	p.i++ // opening quote
	p.inw = true
	for p.i < len(p.s) && p.s[p.i] != '"' {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			p.add(string(p.s[p.i+1]))
			p.i += 2
		case c == '$' || c == '`':
			p.expansion(true)
		default:
			p.add(string(c))
			p.i++
		}
	}
	p.i++ // closing quote
}

// expansion handles $NAME, ${NAME...}, $(...) and `...` at p.i.
func (p *scriptParser) expansion(quoted bool) {
	s := p.s[p.i:]
	if s[0] == '`' || strings.HasPrefix(s, "$(") {
		p.skipSubstitution()
		return
	}
	var name, def string
	hasDef := false
	n := 1
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			p.add(s)
			p.i = len(p.s)
			return
		}
		expr := s[2:end]
		n = end + 1
		name = expr
		for _, op := range []string{":-", "-", ":=", "="} {
			if k := strings.Index(expr, op); k > 0 && isName(expr[:k]) {
				name, def, hasDef = expr[:k], expr[k+len(op):], true
				break
			}
		}
	} else {
		for n < len(s) && isName(s[1:n+1]) {
			n++
		}
		name = s[1:n]
		if name == "" {
			p.add("$")
			p.i++
			return
		}
	}
	p.i += n
	v, src, ok := p.value(name)
	if !ok && hasDef {
		v, ok, src = def, true, p.source
	}
	if !ok {
		p.wdyn = true
		p.add(s[:n]) // kept as written, for messages
		if src != "" {
			p.wsrc = src
		}
		return
	}
	if src != p.source {
		p.wsrc = src
	}
	if quoted {
		p.add(v)
		return
	}
	// Field splitting of an unquoted expansion.
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return
	}
	if v[0] == ' ' || v[0] == '\t' || v[0] == '\n' {
		p.endWord()
		p.wsrc = src
	}
	for k, f := range fields {
		if k > 0 {
			p.endWord()
			p.wsrc = src
		}
		p.add(f)
	}
	if last := v[len(v)-1]; last == ' ' || last == '\t' || last == '\n' {
		p.endWord()
	}
}

func (p *scriptParser) value(name string) (v, src string, ok bool) {
	if v, ok := p.vars[name]; ok {
		return v, p.source, true
	}
	v, src, known, set := p.lookup(name)
	if !set {
		return "", "", false
	}
	return v, src, known
}

// skipSubstitution consumes a command substitution, keeping its text in
// the word (for messages) and marking the word dynamic.
func (p *scriptParser) skipSubstitution() {
	p.wdyn = true
	start := p.i
	defer func() { p.add(p.s[start:p.i]) }()
	if p.s[p.i] == '`' {
		end := strings.IndexByte(p.s[p.i+1:], '`')
		if end < 0 {
			p.i = len(p.s)
			return
		}
		p.i += end + 2
		return
	}
	depth := 0
	for ; p.i < len(p.s); p.i++ {
		switch p.s[p.i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				p.i++
				return
			}
		}
	}
}
