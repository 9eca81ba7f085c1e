package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/gate"
)

// runCLI runs one stadion command in this process against a server.
func runCLI(t *testing.T, p *proc, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", p.http, "--token", p.admin)
	code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	return out.String(), errOut.String(), code
}

// TestTicketsAndVenueCommands drives the CLI against a cloud and an edge:
// a batch issue with its progress bar, show, revoke, the venue list and
// the edge's status and logs fetched over its link.
func TestTicketsAndVenueCommands(t *testing.T) {
	dir := t.TempDir()
	cloud := startGateCloud(t, dir+"/cloud")
	creds := cloud.credsFile(t, "bird-nest", dir)
	startEdgeProc(t, dir+"/edge", "bird-nest", "nats://"+cloud.leaf, creds)

	out, errOut, code := runCLI(t, cloud.proc, "tickets", "issue", "--venue", "bird-nest", "--session", "CER",
		"--from", "2026-01-01T00:00:00Z", "--until", "2027-01-01T00:00:00Z", "--seat", "A", "--count", "1200")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 1200 || !strings.Contains(errOut, "issuing [") {
		t.Fatalf("issue: exit %d, %d lines, stderr %q", code, len(lines), errOut)
	}
	var first gate.Issued
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Code == "" {
		t.Fatalf("first line %q: %v", lines[0], err)
	}
	if _, _, code := runCLI(t, cloud.proc, "tickets", "revoke", first.ID); code != 0 {
		t.Fatalf("revoke: exit %d", code)
	}
	out, _, _ = runCLI(t, cloud.proc, "tickets", "show", first.ID)
	if !strings.Contains(out, "REVOKED") || !strings.Contains(out, "A-1") {
		t.Errorf("show after revoke:\n%s", out)
	}
	_, errOut, code = runCLI(t, cloud.proc, "tickets", "issue", "--venue", "bird-nest", "--session", "CER", "--from", "tomorrow", "--until", "x")
	if code != 2 || !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("bad --from: exit %d, %q", code, errOut)
	}

	waitFor(t, "the edge linked in the venue list", func() bool {
		out, _, _ := runCLI(t, cloud.proc, "venue", "list")
		return strings.Contains(out, "bird-nest  up")
	})
	out, errOut, code = runCLI(t, cloud.proc, "venue", "status", "bird-nest", "--json")
	if code != 0 || !strings.Contains(out, `"domain": "edge-bird-nest"`) {
		t.Errorf("venue status: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, cloud.proc, "venue", "logs", "bird-nest", "--since", "1h")
	if code != 0 || !strings.Contains(out, "edge state replayed") {
		t.Errorf("venue logs: exit %d\n%s", code, out)
	}
	_, errOut, code = runCLI(t, cloud.proc, "venue", "status", "ice-cube")
	if code != 1 || !strings.Contains(errOut, "no edge of venue ice-cube is linked") {
		t.Errorf("status of an unlinked venue: exit %d, %q", code, errOut)
	}
	// The edge mines its own logs (its log ring wraps the tee that feeds
	// the miner): the cloud lists the edge's classes through the link.
	waitFor(t, "the edge's own log classes listed through the cloud", func() bool {
		out, _, code := runCLI(t, cloud.proc, "anomalies", "--venue", "bird-nest", "--json")
		var an struct {
			Site    string `json:"site"`
			Classes []struct {
				Template string `json:"template"`
			} `json:"classes"`
		}
		return code == 0 && json.Unmarshal([]byte(out), &an) == nil && an.Site == "bird-nest" && len(an.Classes) > 0
	})
}
