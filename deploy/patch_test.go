package deploy

import (
	"encoding/json"
	"testing"
)

func TestApplyPatch(t *testing.T) {
	doc := func() any {
		return map[string]any{"spec": map[string]any{"args": []any{"edge", "--venue", "x"}, "labels": map[string]any{}}}
	}
	for _, tc := range []struct {
		name, op, path, value, want string
	}{
		{"replace array item", "replace", "/spec/args/2", `"bird-nest"`, `{"spec":{"args":["edge","--venue","bird-nest"],"labels":{}}}`},
		{"add with escaped key", "add", "/spec/labels/stadion.dev~1venue", `"ice-cube"`, `{"spec":{"args":["edge","--venue","x"],"labels":{"stadion.dev/venue":"ice-cube"}}}`},
		{"append", "add", "/spec/args/-", `"--v"`, `{"spec":{"args":["edge","--venue","x","--v"],"labels":{}}}`},
		{"remove", "remove", "/spec/args/0", ``, `{"spec":{"args":["--venue","x"],"labels":{}}}`},
		{"replace missing member", "replace", "/spec/nope", `1`, `error`},
		{"index out of range", "replace", "/spec/args/3", `"y"`, `error`},
		{"missing parent", "add", "/spec/nope/x", `1`, `error`},
		{"bad operation", "move", "/spec/args/0", `1`, `error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyPatch(doc(), tc.op, tc.path, []byte(tc.value))
			if tc.want == "error" {
				if err == nil {
					t.Fatalf("applied, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(got)
			if err != nil || string(js) != tc.want {
				t.Errorf("got %s (%v), want %s", js, err, tc.want)
			}
		})
	}
}
