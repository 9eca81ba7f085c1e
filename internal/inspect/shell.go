package inspect

import (
	"path"
	"strings"
)

// word is one argument of a process with where it came from.
type word struct {
	text    string
	source  string // "command", "args", "env JAVA_OPTS", "ConfigMap app-env key JAVA_OPTS", ...
	dynamic bool   // computed at run time: a command substitution or an unknown variable
}

// lookupFunc finds a variable; ok is false when the variable is not set or
// its value cannot be known from the manifests (a Secret, a missing ConfigMap).
type lookupFunc func(name string) (value, source string, known, set bool)

// expandK8s expands Kubernetes $(VAR) references in a command, an argument
// or an env value; $$ is a literal $ and unknown references stay as written,
// as the kubelet does.
func expandK8s(s string, lookup lookupFunc) (out string, sources []string, dynamic bool) {
	if !strings.Contains(s, "$") {
		return s, nil, false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), sources, dynamic
			}
			name := s[i+2 : i+end]
			v, src, known, set := lookup(name)
			switch {
			case set && known:
				b.WriteString(v)
				sources = append(sources, src)
			case set:
				dynamic = true
				sources = append(sources, src)
			default:
				b.WriteString(s[i : i+end+1])
			}
			i += end
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), sources, dynamic
}

// splitOptions splits an options variable such as JAVA_TOOL_OPTIONS or
// NODE_OPTIONS into words: whitespace separates, single and double quotes
// group, nothing is expanded (the runtimes do not expand these).
func splitOptions(s, source string) []word {
	var words []word
	var cur strings.Builder
	in, quote := false, byte(0)
	flush := func() {
		if in {
			words = append(words, word{text: cur.String(), source: source})
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	flush()
	return words
}

// shells are the programs whose -c script is parsed.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true}

// wrappers start the real program and pass their arguments through.
var wrappers = map[string]bool{"tini": true, "dumb-init": true, "exec": true, "env": true, "nohup": true, "gosu": false, "su-exec": false}

// program returns the argv of the process a container runs, looking
// through init wrappers and `sh -c` scripts: the first statement of a
// script that runs one of progs (java, node) is taken. ok is false when the
// container has no command or args that name a program (the image's
// entrypoint decides, and is not in the manifest).
func program(argv []word, lookup lookupFunc, progs map[string]bool) (out []word, viaShell, ok bool) {
	argv = stripWrappers(argv)
	if len(argv) == 0 {
		return nil, false, false
	}
	base := path.Base(argv[0].text)
	if !shells[base] {
		return argv, false, true
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i].text
		if a == "-c" || (strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c")) {
			if i+1 >= len(argv) {
				return nil, true, false
			}
			for _, st := range parseScript(argv[i+1].text, argv[i+1].source, lookup) {
				st = stripWrappers(st)
				if len(st) > 0 && progs[path.Base(st[0].text)] {
					return st, true, true
				}
			}
			return nil, true, false
		}
	}
	return nil, true, false
}

func stripWrappers(argv []word) []word {
	for len(argv) > 0 {
		base := path.Base(argv[0].text)
		switch {
		case wrappers[base]:
			argv = argv[1:]
			for len(argv) > 0 && (strings.HasPrefix(argv[0].text, "-") || (base == "env" && strings.Contains(argv[0].text, "="))) {
				argv = argv[1:]
			}
		case base == "gosu" || base == "su-exec":
			if len(argv) < 2 {
				return nil
			}
			argv = argv[2:]
		default:
			return argv
		}
	}
	return argv
}
