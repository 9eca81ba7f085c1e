package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// consoleGet sends GET path with key (none when "") and returns the answer.
func consoleGet(t *testing.T, p *proc, path, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", p.http+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestAttackConsole attacks the console's endpoints on the real binary
// with a client's key: the series of what it may not read stay hidden,
// a key in the URL is refused, the feed counts against the client's cap
// of long-lived responses, revoking the key ends the feed, and the page
// refuses to be framed.
func TestAttackConsole(t *testing.T) {
	p := startUp(t, t.TempDir(), "--config", "testdata/console/stadion.yaml")
	timing := p.createKey("timing")
	screens, screensID := httpCreateKey(p, "screens")

	// Series: screens reads laps, not secrets, and no sink or room.
	series := func(key string) map[string]bool {
		resp := consoleGet(t, p, "/v1/console/series", key)
		defer resp.Body.Close()
		var page struct{ Series []struct{ ID string } }
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			t.Fatalf("series: %d %v", resp.StatusCode, err)
		}
		ids := map[string]bool{}
		for _, s := range page.Series {
			ids[s.ID] = true
		}
		return ids
	}
	waitFor(t, "the admin to see both topics' rates", func() bool {
		for _, topic := range []string{"laps", "secrets"} {
			body := `{"athlete":"NOR-1","n":1,"ms":1}`
			if topic == "secrets" {
				body = `{"id":"x"}`
			}
			if code := p.request("POST", "/v1/topics/"+topic+"/events", timing, body, nil); code != 202 {
				t.Fatalf("publish %s: %d", topic, code)
			}
		}
		all := series(p.admin)
		return all["topic/laps/rate"] && all["topic/secrets/rate"] && all["sink/laps-db/lag"]
	})
	for id := range series(screens) {
		if id != "topic/laps/rate" {
			t.Errorf("client screens sees series %s", id)
		}
	}

	// A key in the URL is never taken.
	for _, q := range []string{"?token=", "?key=", "?access_token=", "?authorization=Bearer%20"} {
		resp := consoleGet(t, p, "/v1/console/feed"+q+screens, "")
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("feed with the key in %q: %d, want 401", q, resp.StatusCode)
		}
	}

	// The feed shares the client's cap (exchange.streams_per_client: 2)
	// with its SSE streams.
	httpFollow(t, p, screens, "laps")
	second := httpFollow(t, p, screens, "laps")
	if resp := consoleGet(t, p, "/v1/console/feed", screens); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a feed beyond the cap: %d, want 429", resp.StatusCode)
		resp.Body.Close()
	}
	second.cancel()
	var feed *http.Response
	waitFor(t, "a feed once a stream closed", func() bool {
		feed = consoleGet(t, p, "/v1/console/feed", screens)
		if feed.StatusCode == 200 {
			return true
		}
		feed.Body.Close()
		return false
	})
	defer feed.Body.Close()
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(feed.Body)
		for sc.Scan() {
		}
		close(ended)
	}()

	// Revoking the key ends the feed.
	if code := p.request("DELETE", "/v1/clients/screens/keys/"+screensID, p.admin, "", nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked key's console feed is still open 10s after revocation")
	}

	// The page is not framable and loads nothing from elsewhere.
	resp := consoleGet(t, p, "/", "")
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("page headers: %v", resp.Header)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.http+"/nope", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("an unknown path: %v %v, want the 404 problem as before", err, resp)
	} else {
		resp.Body.Close()
	}
}
