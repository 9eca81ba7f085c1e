package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestCommandsPrintTextAndJSON: every command that talks to a server
// prints text for people by default and JSON with --json, whatever it does
// (lists, one item, actions that answer nothing).
func TestCommandsPrintTextAndJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	data := t.TempDir()
	p := startProc(t, data) // the bundled Games example: sinks, live rooms, venues, capture
	run := func(args ...string) (string, int) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append(args, "--data", p.data), Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
		if code != 0 {
			t.Errorf("stadion %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		return out.String(), code
	}
	for _, args := range [][]string{
		{"topics"},
		{"topics", "results"},
		{"sinks"},
		{"sinks", "arrivals-db"},
		{"sinks", "dead-letters", "arrivals-db"},
		{"sinks", "redrive", "arrivals-db"},
		{"sinks", "drop", "arrivals-db"},
		{"capture", "put", "cam", "--source", "http://127.0.0.1:1/index.m3u8", "--every", "1m"},
		{"capture", "status"},
		{"capture", "status", "cam"},
		{"capture", "frames", "cam"},
		{"capture", "delete", "cam"},
		{"venue", "list"},
		{"live", "pin", "curling", `{"text":"Final at 14:05"}`},
		{"live", "pin", "curling", "--clear"},
		{"live", "stats", "curling"},
		{"keys", "list", "odf"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			text, code := run(args...)
			if code == 0 && (strings.TrimSpace(text) == "" || strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[")) {
				t.Errorf("without --json: %q, want text for people", text)
			}
			if args[0] == "capture" && args[1] == "delete" {
				run("capture", "put", "cam", "--source", "http://127.0.0.1:1/index.m3u8", "--every", "1m")
			}
			js, code := run(append(args, "--json")...)
			if code == 0 && !json.Valid([]byte(js)) {
				t.Errorf("with --json: %q is not JSON", js)
			}
		})
	}
	// venue status shows the cloud's view as text, then fails on the edge
	// that is not linked; with --json the edge's error is a field.
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"venue", "status", "bird-nest", "--data", p.data}, Env{Stdout: &out, Stderr: &errOut})
	if code != 1 || !strings.HasPrefix(out.String(), "venue bird-nest, as the cloud sees it") || !strings.Contains(errOut.String(), "no edge of venue bird-nest is linked") {
		t.Errorf("venue status: exit %d, %q, %q", code, out.String(), errOut.String())
	}
	out.Reset()
	Main(context.Background(), []string{"venue", "status", "bird-nest", "--json", "--data", p.data}, Env{Stdout: &out, Stderr: &errOut})
	var vs struct {
		EdgeError string `json:"edge_error"`
	}
	if err := json.Unmarshal(out.Bytes(), &vs); err != nil || vs.EdgeError == "" {
		t.Errorf("venue status --json: %v %q", err, out.String())
	}
}
