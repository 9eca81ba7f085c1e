package inspect

import (
	"reflect"
	"testing"
)

func TestParseScript(t *testing.T) {
	env := map[string]string{"JAVA_OPTS": "-Xmx1g  -XX:+UseG1GC", "EMPTY": ""}
	lookup := func(n string) (string, string, bool, bool) {
		v, ok := env[n]
		return v, "env " + n, true, ok
	}
	tests := []struct {
		name, script string
		want         [][]string
	}{
		{"exec with unquoted expansion splits", `exec java $JAVA_OPTS -jar app.jar`, [][]string{{"exec", "java", "-Xmx1g", "-XX:+UseG1GC", "-jar", "app.jar"}}},
		{"quoted expansion does not split", `java "$JAVA_OPTS" x`, [][]string{{"java", "-Xmx1g  -XX:+UseG1GC", "x"}}},
		{"braces and default", `java ${MISSING:--Xmx5m} ${JAVA_OPTS}`, [][]string{{"java", "-Xmx5m", "-Xmx1g", "-XX:+UseG1GC"}}},
		{"statements", "echo start; java -Xmx2g Main && echo done", [][]string{{"echo", "start"}, {"java", "-Xmx2g", "Main"}, {"echo", "done"}}},
		{"export sets a variable", `export H=-Xmx3g; java $H`, [][]string{{"java", "-Xmx3g"}}},
		{"assignment prefix", `H=-Xmx4g; java $H`, [][]string{{"java", "-Xmx4g"}}},
		{"single quotes are literal", `java '$JAVA_OPTS'`, [][]string{{"java", "$JAVA_OPTS"}}},
		{"line continuation", "java \\\n  -Xmx1g Main", [][]string{{"java", "-Xmx1g", "Main"}}},
		{"comment", "# start it\njava Main # trailing", [][]string{{"java", "Main"}}},
		{"empty expansion disappears", `java $EMPTY Main`, [][]string{{"java", "Main"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]string
			for _, st := range parseScript(tt.script, "command", lookup) {
				var ws []string
				for _, w := range st {
					ws = append(ws, w.text)
				}
				got = append(got, ws)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseScript(%q) = %q, want %q", tt.script, got, tt.want)
			}
		})
	}
}

func TestParseScriptDynamic(t *testing.T) {
	lookup := func(string) (string, string, bool, bool) { return "", "", false, false }
	for _, s := range []string{"java -Xmx$(cat /heap) Main", "java -Xmx`cat /heap` Main", "java -Xmx$UNSET Main"} {
		t.Run(s, func(t *testing.T) {
			st := parseScript(s, "command", lookup)
			if len(st) != 1 || len(st[0]) < 2 || !st[0][1].dynamic {
				t.Fatalf("parseScript(%q) = %+v, want a dynamic second word", s, st)
			}
		})
	}
}

func TestExpandK8s(t *testing.T) {
	lookup := func(n string) (string, string, bool, bool) {
		switch n {
		case "A":
			return "1", "env A", true, true
		case "S":
			return "", "Secret s key k", false, true
		}
		return "", "", false, false
	}
	tests := []struct {
		in, want string
		dynamic  bool
	}{
		{"$(A)x", "1x", false}, {"$$(A)", "$(A)", false}, {"$(B)", "$(B)", false}, {"$(S)", "", true}, {"no refs", "no refs", false}, {"$(A", "$(A", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, _, dyn := expandK8s(tt.in, lookup)
			if got != tt.want || dyn != tt.dynamic {
				t.Fatalf("expandK8s(%q) = %q, %v; want %q, %v", tt.in, got, dyn, tt.want, tt.dynamic)
			}
		})
	}
}
