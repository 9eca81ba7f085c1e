package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/ops"
)

// The request policy against the real binary, with the bundled example
// (every capability on): roles, freezes with two-person approval, and the
// audit trail.

// roleKey makes an admin key with role and label; it returns key and id.
func roleKey(t *testing.T, p *proc, role, label string) (string, string) {
	t.Helper()
	var out struct{ Key, ID string }
	body := fmt.Sprintf(`{"role":%q,"label":%q}`, role, label)
	if code := p.request("POST", "/v1/clients/admin/keys", p.admin, body, &out); code != 201 || out.Key == "" {
		t.Fatalf("create %s key for %s: %d", role, label, code)
	}
	return out.Key, out.ID
}

// call sends a request and returns status, Content-Type, the approval
// header and the decoded body.
func call(t *testing.T, p *proc, method, path, key, body string) (int, string, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.http+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get(client.HeldHeader), out
}

// runAs runs one stadion command in this process with token.
func runAs(t *testing.T, p *proc, token string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", p.http, "--token", token)
	code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	return out.String(), errOut.String(), code
}

// auditEntries reads the whole trail through `stadion audit --json`.
func auditEntries(t *testing.T, p *proc, token string) []client.AuditEntry {
	t.Helper()
	out, errOut, code := runAs(t, p, token, "audit", "--json", "--since", "1h")
	if code != 0 {
		t.Fatalf("stadion audit: exit %d: %s", code, errOut)
	}
	var list []client.AuditEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e client.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		list = append(list, e)
	}
	return list
}

// fillPath puts a plausible value in each {name} of a route's path.
func fillPath(path string) string {
	parts := strings.Split(path, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") {
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

// TestViewerRefusedEveryChange walks the policy's table: every route that
// is not a read answers a viewer key 403 problem+json naming the role,
// and changes nothing; the viewer reads.
func TestViewerRefusedEveryChange(t *testing.T) {
	p := startProc(t, t.TempDir())
	viewer, _ := roleKey(t, p, "viewer", "Night desk")
	before := len(auditEntries(t, p, p.admin))
	checked := 0
	patterns := make([]string, 0, len(ops.Table))
	for pattern := range ops.Table {
		patterns = append(patterns, pattern)
	}
	slices.Sort(patterns)
	for _, pattern := range patterns {
		rule := ops.Table[pattern]
		method, path, ok := strings.Cut(pattern, " ")
		if rule.Class < ops.Use || !ok {
			continue
		}
		code, ctype, _, body := call(t, p, method, fillPath(path), viewer, `{}`)
		if code == 404 && strings.HasPrefix(fmt.Sprint(body["detail"]), "no route for") {
			t.Logf("%s is not served by this build", pattern)
			continue
		}
		checked++
		if code != 403 || ctype != "application/problem+json" || !strings.Contains(fmt.Sprint(body["detail"]), "has the viewer role") {
			t.Errorf("viewer %s: %d %s %v, want 403 problem+json naming the role", pattern, code, ctype, body)
		}
	}
	if checked < 30 {
		t.Fatalf("only %d changing routes were tried", checked)
	}
	for _, path := range []string{"/v1/sinks", "/v1/topics", "/v1/clients/admin/keys", "/v1/freezes", "/v1/approvals", "/v1/audit", "/v1/health"} {
		if code, _, _, body := call(t, p, "GET", path, viewer, ""); code != 200 {
			t.Errorf("viewer GET %s: %d %v", path, code, body)
		}
	}
	if _, errOut, code := runAs(t, p, viewer, "sinks", "pause", "arrivals-db"); code == 0 || !strings.Contains(errOut, "403") {
		t.Errorf("stadion sinks pause as viewer: exit %d, %q", code, errOut)
	}
	if after := len(auditEntries(t, p, viewer)); after != before {
		t.Errorf("the viewer's refused requests left %d audit entries", after-before)
	}

	// Reissue: every viewer key goes, each named person gets a new one.
	dir := t.TempDir()
	if _, errOut, code := runAs(t, p, p.admin, "keys", "reissue", "--role", "viewer", "--to", "Night desk,Anna K", "--out", dir); code != 0 {
		t.Fatalf("reissue: exit %d %s", code, errOut)
	}
	if code, _, _, _ := call(t, p, "GET", "/v1/sinks", viewer, ""); code != 401 {
		t.Errorf("the old viewer key after reissue: %d", code)
	}
	for _, name := range []string{"night-desk", "anna-k"} {
		path := filepath.Join(dir, name+".key")
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", path, st, err)
		}
		raw, _ := os.ReadFile(path)
		key := strings.TrimSpace(string(raw))
		if code, _, _, _ := call(t, p, "GET", "/v1/sinks", key, ""); code != 200 {
			t.Errorf("%s's new key reads: %d", name, code)
		}
		if code, _, _, _ := call(t, p, "POST", "/v1/sinks/arrivals-db/pause", key, ""); code != 403 {
			t.Errorf("%s's new key is not a viewer: %d", name, code)
		}
		viewer = key
	}

	// A viewer follows the trail: once it has seen the reissue, a new
	// change reaches it while it waits.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seen := make(chan client.AuditEntry, 16)
	done := make(chan error, 1)
	c := &client.Client{Base: p.http, Token: viewer, HTTP: http.DefaultClient}
	go func() {
		done <- c.FollowAudit(ctx, "1h", func(e client.AuditEntry) error {
			if strings.HasPrefix(e.Path, "/v1/clients/") {
				seen <- e
			}
			return nil
		})
	}()
	for reissued := false; !reissued; {
		select {
		case e := <-seen:
			reissued = e.Path == "/v1/clients/admin/keys/reissue"
		case <-ctx.Done():
			t.Fatal("the follower did not see the reissue")
		}
	}
	p.createKey("odf")
	select {
	case e := <-seen:
		if e.Path != "/v1/clients/odf/keys" || e.Status != 201 || len(e.After) == 0 {
			t.Errorf("followed entry: %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("the follower did not see the new change")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow: %v", err)
	}
}

// TestFreezeNeedsSecondPerson: an operator pauses a sink but cannot make
// a key; under a freeze the operator's change is held until a different
// person approves; the requester and another key of the same person
// cannot approve; a held change expires; every change is in the audit
// trail exactly once, the approved one naming both people.
func TestFreezeNeedsSecondPerson(t *testing.T) {
	p := startProc(t, t.TempDir())
	anna, annaID := roleKey(t, p, "admin", "Anna K")
	li, liID := roleKey(t, p, "operator", "Li Wei")
	liAgain, _ := roleKey(t, p, "operator", "li wei")
	sinkState := func() string {
		var s struct{ State string }
		if code := p.request("GET", "/v1/sinks/arrivals-db", p.admin, "", &s); code != 200 {
			t.Fatalf("sink: %d", code)
		}
		return s.State
	}
	type change struct{ method, path, keyID, outcome string }
	var want []change

	// Roles without a freeze.
	if code, _, _, body := call(t, p, "POST", "/v1/sinks/arrivals-db/pause", li, ""); code != 200 {
		t.Fatalf("operator pause: %d %v", code, body)
	}
	want = append(want, change{"POST", "/v1/sinks/arrivals-db/pause", liID, "applied"})
	if code, _, _, _ := call(t, p, "POST", "/v1/sinks/arrivals-db/resume", li, ""); code != 200 {
		t.Fatalf("operator resume: %d", code)
	}
	want = append(want, change{"POST", "/v1/sinks/arrivals-db/resume", liID, "applied"})
	if code, _, _, body := call(t, p, "POST", "/v1/clients/odf/keys", li, ""); code != 403 {
		t.Fatalf("operator made a key: %d %v", code, body)
	}

	// The freeze, through the CLI.
	if _, errOut, code := runAs(t, p, p.admin, "freeze", "set", "opening", "--end", "+1h", "--scope", "sinks,keys", "--hold-for", "10s"); code != 0 {
		t.Fatalf("freeze set: %d %s", code, errOut)
	}
	want = append(want, change{"PUT", "/v1/freezes/opening", "", "applied"})

	// Held: 202 with an id, nothing changed yet; the CLI says so.
	code, _, held, body := call(t, p, "POST", "/v1/sinks/arrivals-db/pause", li, "")
	if code != 202 || held == "" || body["approval"] != held {
		t.Fatalf("pause under freeze: %d %q %v", code, held, body)
	}
	want = append(want, change{"POST", "/v1/sinks/arrivals-db/pause", liID, "pending"})
	if s := sinkState(); s == "paused" {
		t.Fatal("a held change ran")
	}
	if _, errOut, code := runAs(t, p, li, "sinks", "resume", "arrivals-db"); code == 0 || !strings.Contains(errOut, "approvals approve") {
		t.Errorf("CLI under freeze: exit %d, %q", code, errOut)
	}
	want = append(want, change{"POST", "/v1/sinks/arrivals-db/resume", liID, "pending"})

	// Not by the requester, not by the same person with another key.
	for _, k := range []string{li, liAgain} {
		if code, _, _, body := call(t, p, "POST", "/v1/approvals/"+held+"/approve", k, ""); code != 403 {
			t.Errorf("self-approval: %d %v", code, body)
		}
	}
	// A different person approves through the CLI: it runs once, as Li.
	out, errOut, code2 := runAs(t, p, anna, "approvals", "approve", held)
	if code2 != 0 || !strings.Contains(errOut, "answered 200") {
		t.Fatalf("approve: exit %d %q %q", code2, out, errOut)
	}
	want = append(want, change{"POST", "/v1/sinks/arrivals-db/pause", liID, "applied"})
	if s := sinkState(); s != "paused" {
		t.Errorf("after approval the sink is %q", s)
	}
	if code, _, _, _ := call(t, p, "POST", "/v1/approvals/"+held+"/approve", p.admin, ""); code != 409 {
		t.Errorf("second approval: %d", code)
	}

	// A held change expires (hold-for 10s).
	_, _, expiring, _ := call(t, p, "POST", "/v1/clients/odf/keys", p.admin, "")
	if expiring == "" {
		t.Fatal("key creation under a freeze on keys was not held")
	}
	want = append(want, change{"POST", "/v1/clients/odf/keys", "", "pending"})
	deadline := time.Now().Add(40 * time.Second)
	for {
		var a struct{ State string }
		p.request("GET", "/v1/approvals/"+expiring, anna, "", &a)
		if a.State == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held change still %q after its hold", a.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _, _, _ := call(t, p, "POST", "/v1/approvals/"+expiring+"/approve", anna, ""); code != 409 {
		t.Errorf("approving an expired change: %d", code)
	}

	// The trail: each change once, in order, the approved one naming both.
	var got []change
	var approved []client.AuditEntry
	for _, e := range auditEntries(t, p, li) {
		if e.Area == "keys" && e.Method == "POST" && e.Outcome == "applied" && e.Path == "/v1/clients/admin/keys" {
			continue // the keys this test made
		}
		id := e.Who.KeyID
		if id != liID {
			id = ""
		}
		got = append(got, change{e.Method, e.Path, id, e.Outcome})
		if e.ApprovedBy != nil {
			approved = append(approved, e)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit trail:\n got %v\nwant %v", got, want)
	}
	if len(approved) != 1 || approved[0].ApprovedBy.KeyID != annaID || approved[0].Who.Label != "Li Wei" ||
		approved[0].Approval != held || approved[0].Status != 200 || len(approved[0].Before) == 0 || len(approved[0].After) == 0 {
		t.Errorf("approved entry: %+v", approved)
	}
}

// TestFreezeOnEveryReplica: two `stadion up` on one engine. Keys, roles
// and a freeze made on one hold on the other; a change held there is
// approved on the first and recorded once.
func TestFreezeOnEveryReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("two servers")
	}
	dir := t.TempDir()
	cfg := "testdata/sink/stadion.yaml"
	a := startProc(t, filepath.Join(dir, "a"), "--config", cfg)
	b := startProc(t, filepath.Join(dir, "b"), "--config", cfg, "--nats-url", engineNATS(t, a))
	viewer, _ := roleKey(t, a, "viewer", "Vic")
	anna, _ := roleKey(t, a, "admin", "Anna K")
	li, liID := roleKey(t, a, "operator", "Li Wei")
	if code, _, _, _ := call(t, b, "POST", "/v1/sinks/laps-db/pause", viewer, ""); code != 403 {
		t.Errorf("a viewer key made on a, on b: %d", code)
	}
	if _, errOut, code := runAs(t, a, a.admin, "freeze", "set", "opening", "--end", "+1h", "--scope", "all"); code != 0 {
		t.Fatalf("freeze set: %s", errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for code, _, _, _ := call(t, b, "GET", "/v1/freezes/opening", viewer, ""); code != 200; code, _, _, _ = call(t, b, "GET", "/v1/freezes/opening", viewer, "") {
		if time.Now().After(deadline) {
			t.Fatalf("b does not see the freeze: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, _, held, _ := call(t, b, "POST", "/v1/sinks/laps-db/pause", li, "")
	if code != 202 || held == "" {
		t.Fatalf("pause on b under a freeze set on a: %d", code)
	}
	if code, _, _, body := call(t, a, "POST", "/v1/approvals/"+held+"/approve", anna, ""); code != 200 {
		t.Fatalf("approve on a: %d %v", code, body)
	}
	var applied int
	for _, e := range auditEntries(t, b, viewer) {
		if e.Path == "/v1/sinks/laps-db/pause" && e.Outcome == "applied" {
			applied++
			if e.Who.KeyID != liID || e.ApprovedBy == nil || e.ApprovedBy.Label != "Anna K" {
				t.Errorf("entry %+v", e)
			}
		}
	}
	if applied != 1 {
		t.Errorf("the approved change is in the trail %d times", applied)
	}
}
