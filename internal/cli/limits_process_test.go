package cli

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// agentRequest sends GET path to p with a User-Agent and returns the status
// and, for a 429, the problem's limit and the Retry-After header.
func (p *proc) agentRequest(path, key, agent string) (code int, limit, retry string) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("User-Agent", agent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var prob struct {
		Limit string `json:"limit"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&prob)
	return resp.StatusCode, prob.Limit, resp.Header.Get("Retry-After")
}

// pollUntil polls cond every 20 ms until it holds, failing after 20 s
// (a generous bound for a loaded machine; the property under test is that
// it happens, the time it takes is measured by `stadion bench limits`).
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cli runs the stadion binary against p's API.
func (p *proc) cli(args ...string) string {
	p.t.Helper()
	args = append(args, "--server", p.http, "--token", p.admin)
	out, err := exec.Command(stadionBinary(p.t), args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("stadion %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestLimitsAcrossReplicas runs two `stadion up` on one engine: a
// User-Agent limit set through the CLI on one refuses that agent on the
// other (429, Retry-After, the limit named) while other agents pass;
// shadow mode counts without refusing; an expiring limit goes everywhere;
// a block of everything cannot lock the admin out of deleting it; a plan
// refuses a flooding MQTT client's CONNECTs while a viewer still connects,
// and its revert lets the client in again.
func TestLimitsAcrossReplicas(t *testing.T) {
	ns := enginetest.Server(t)
	ext := []string{"--config", "testdata/limits/stadion.yaml", "--nats-url", ns.ClientURL(), "--nats", ""}
	a := startProc(t, t.TempDir(), ext...)
	b := startProc(t, t.TempDir(), ext...)
	key := a.createKey("screens")
	pollUntil(t, "the key known on the other replica", func() bool { return b.request("GET", "/v1/topics", key, "", nil) == 200 })

	// a screens key may not change limits
	if code := b.request("PUT", "/v1/limits/x", key, `{"rate":"0"}`, nil); code != 403 {
		t.Fatalf("non-admin PUT /v1/limits: %d, want 403", code)
	}

	a.cli("limits", "set", "badbot", "--user-agent", "^BadBot/", "--rate", "1/h", "--burst", "1")
	pollUntil(t, "BadBot refused on the other replica", func() bool {
		code, limit, retry := b.agentRequest("/v1/topics", key, "BadBot/2.0")
		return code == 429 && limit == "badbot" && retry != ""
	})
	for _, agent := range []string{"Mozilla/5.0", "NotBadBot/1", "stadion-cli/dev"} {
		if code, limit, _ := b.agentRequest("/v1/topics", key, agent); code != 200 {
			t.Fatalf("%s: %d (limit %q), want 200", agent, code, limit)
		}
	}

	// shadow: counted, not refused
	b.cli("limits", "set", "badbot", "--user-agent", "^BadBot/", "--rate", "1/h", "--burst", "1", "--shadow")
	pollUntil(t, "shadow on the first replica", func() bool {
		code, _, _ := a.agentRequest("/v1/topics", key, "BadBot/2.0")
		return code == 200
	})
	for range 3 {
		if code, _, _ := a.agentRequest("/v1/topics", key, "BadBot/2.0"); code != 200 {
			t.Fatalf("a shadow limit refused: %d", code)
		}
	}
	var list struct {
		Counts map[string]struct {
			Limited       int64 `json:"limited"`
			ShadowLimited int64 `json:"shadow_limited"`
		} `json:"counts"`
		Processes int `json:"processes"`
	}
	pollUntil(t, "shadow counts from both replicas", func() bool {
		b.request("GET", "/v1/limits?counts=true", b.admin, "", &list)
		c := list.Counts["badbot"]
		return list.Processes == 2 && c.ShadowLimited >= 3 && c.Limited >= 1
	})

	// expiry removes it everywhere
	a.cli("limits", "set", "badbot", "--user-agent", "^BadBot/", "--rate", "0", "--ttl", "2s")
	pollUntil(t, "the expiring block on the other replica", func() bool {
		code, _, _ := b.agentRequest("/v1/topics", key, "BadBot/2.0")
		return code == 429
	})
	pollUntil(t, "the block expired everywhere", func() bool {
		ca, _, _ := a.agentRequest("/v1/topics", key, "BadBot/2.0")
		cb, _, _ := b.agentRequest("/v1/topics", key, "BadBot/2.0")
		return ca == 200 && cb == 200 && a.request("GET", "/v1/limits/badbot", a.admin, "", nil) == 404 &&
			b.request("GET", "/v1/limits/badbot", b.admin, "", nil) == 404
	})

	// blocking everything does not lock the admin out of /v1/limits
	a.cli("limits", "set", "everything", "--rate", "0")
	pollUntil(t, "everything blocked on the other replica", func() bool {
		code, limit, _ := b.agentRequest("/v1/topics", b.admin, "Mozilla/5.0")
		return code == 429 && limit == "everything"
	})
	if code := b.request("DELETE", "/v1/limits/everything", key, "", nil); code != 429 {
		t.Fatalf("a client's DELETE under the block: %d, want 429", code)
	}
	b.cli("limits", "delete", "everything")
	pollUntil(t, "unblocked", func() bool {
		code, _, _ := a.agentRequest("/v1/topics", key, "Mozilla/5.0")
		return code == 200
	})

	// a plan: dry run, apply, MQTT flood refused, viewers in, revert
	for range 5 {
		b.agentRequest("/v1/topics", key, "Scraper/1")
	}
	dry := a.cli("plan", "apply", "storm", "--dry-run")
	if !strings.Contains(dry, "storm.scraper") || !strings.Contains(dry, "add") {
		t.Fatalf("dry run:\n%s", dry)
	}
	if out := a.cli("limits", "list"); strings.Contains(out, "storm.") {
		t.Fatalf("a dry run changed the limits:\n%s", out)
	}
	a.cli("plan", "apply", "storm")
	pollUntil(t, "the plan refuses the flooding client on the other replica", func() bool {
		return mqttTry(b.mqtt, "flood-7") != nil
	})
	if err := mqttTry(b.mqtt, "flood-8"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "unavailable") {
		t.Fatalf("flooding client: %v, want refused as server unavailable", err)
	}
	if err := mqttTry(b.mqtt, "viewer-1"); err != nil {
		t.Fatalf("a legitimate viewer under the plan: %v", err)
	}
	if code, limit, _ := b.agentRequest("/v1/topics", key, "Scraper/1"); code != 429 || limit != "storm.scraper" {
		t.Fatalf("scraper under the plan: %d %q", code, limit)
	}
	if out := b.cli("plan", "list"); !strings.Contains(out, "storm") || !strings.Contains(out, "applied") || !strings.Contains(out, "admin/") {
		t.Fatalf("plan list:\n%s", out)
	}
	b.cli("plan", "revert", "storm")
	pollUntil(t, "the revert lets the client in on the first replica", func() bool { return mqttTry(a.mqtt, "flood-9") == nil })
	var hist struct {
		History []struct{ Action, By string } `json:"history"`
	}
	a.request("GET", "/v1/plans/storm", a.admin, "", &hist)
	if len(hist.History) != 2 || hist.History[0].Action != "applied" || hist.History[1].Action != "reverted" {
		t.Fatalf("plan history %+v", hist.History)
	}
	if out := a.cli("plan", "show", "storm"); !strings.Contains(out, "storm.flood") || !strings.Contains(out, "applied") || !strings.Contains(out, "reverted") {
		t.Fatalf("plan show:\n%s", out)
	}
}

// mqttTry connects anonymously as id and disconnects; it returns the
// CONNECT's error.
func mqttTry(addr, id string) error {
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetAutoReconnect(false).SetConnectRetry(false))
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("connect timed out")
	}
	if tok.Error() != nil {
		return tok.Error()
	}
	c.Disconnect(0)
	return nil
}

// TestLimitsLivePostsPerUser limits posts to one per viewer: a second HTTP
// post gets 429 naming the limit while another viewer posts; a second MQTT
// post is acknowledged and dropped, counted in the metrics.
func TestLimitsLivePostsPerUser(t *testing.T) {
	p := startProc(t, t.TempDir(), "--config", "testdata/limits/stadion.yaml")
	if code := p.request("PUT", "/v1/limits/posts", p.admin, `{"match":{"route":"PUBLISH live/*/post"},"rate":"1/h","burst":1,"per":"user"}`, nil); code != 201 {
		t.Fatalf("PUT /v1/limits/posts: %d", code)
	}
	post := func(user, text string) (int, string) {
		req, _ := http.NewRequest("POST", p.http+"/v1/live/final/comments", strings.NewReader(`{"text":"`+text+`"}`))
		req.Header.Set("Authorization", "Bearer "+p.viewerToken(user))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var prob struct{ Limit string }
		_ = json.NewDecoder(resp.Body).Decode(&prob)
		return resp.StatusCode, prob.Limit
	}
	if code, _ := post("alice", "a1"); code >= 300 {
		t.Fatalf("alice's first post: %d", code)
	}
	if code, limit := post("alice", "a2"); code != 429 || limit != "posts" {
		t.Fatalf("alice's second post: %d %q, want 429 naming posts", code, limit)
	}
	if code, _ := post("bob", "b1"); code >= 300 {
		t.Fatalf("bob's post: %d", code)
	}

	o := paho.NewClientOptions().AddBroker("tcp://" + p.mqtt).SetClientID("carol-phone").
		SetUsername("carol").SetPassword(p.viewerToken("carol")).SetAutoReconnect(false)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("carol connects: %v", tok.Error())
	}
	defer c.Disconnect(50)
	for _, text := range []string{"c1", "c2"} {
		if tok := c.Publish("live/final/post", 1, false, `{"text":"`+text+`"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("carol's %s not acknowledged: %v", text, tok.Error())
		}
	}
	if !c.IsConnectionOpen() {
		t.Fatal("a dropped post closed carol's connection")
	}
	pollUntil(t, "carol's first post in the room", func() bool { return readRoom(t, p)["c1"] == 1 })
	if seen := readRoom(t, p); seen["c2"] != 0 || seen["a2"] != 0 || seen["a1"] != 1 || seen["b1"] != 1 {
		t.Fatalf("room history %v: want a1, b1, c1 once and no a2 or c2", seen)
	}
	req, _ := http.NewRequest("GET", p.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var metrics strings.Builder
	_, _ = io.Copy(&metrics, resp.Body)
	for _, want := range []string{`stadion_limits_limited_total{limit="posts"} 2`, `stadion_limits_matched_total{limit="posts"} 5`, `stadion_live_comments_rejected_total{reason="limited"} 2`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if out := p.cli("limits", "watch", "--count", "1", "--interval", "200ms"); !strings.Contains(out, "1 processes") {
		t.Errorf("limits watch:\n%s", out)
	}
}

// TestAttackLimitsWithClientKey: a client key may not read, set or delete
// limits or apply a plan, and cannot step out of a network limit by
// claiming another address in X-Forwarded-For.
func TestAttackLimitsWithClientKey(t *testing.T) {
	p := startProc(t, t.TempDir(), "--config", "testdata/limits/stadion.yaml")
	key := p.createKey("timing")
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/limits", ""}, {"PUT", "/v1/limits/mine", `{"rate":"0","match":{"client":"screens"}}`},
		{"DELETE", "/v1/limits/x", ""}, {"POST", "/v1/plans/storm/apply", ""}, {"POST", "/v1/plans/storm/revert", ""}, {"GET", "/v1/plans", ""},
	} {
		if code := p.request(r.method, r.path, key, r.body, nil); code != 403 {
			t.Errorf("%s %s with a client key: %d, want 403", r.method, r.path, code)
		}
	}
	if code := p.request("PUT", "/v1/limits/local", p.admin, `{"match":{"source":"127.0.0.1","route":"GET /v1/topics"},"rate":"0"}`, nil); code != 201 {
		t.Fatalf("PUT: %d", code)
	}
	req, _ := http.NewRequest("GET", p.http+"/v1/topics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	req.Header.Set("X-Real-IP", "198.51.100.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Fatalf("a forged X-Forwarded-For escaped the network limit: %d", resp.StatusCode)
	}
}
