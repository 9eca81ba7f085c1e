package live

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBrowserViewerPage opens a room's page in headless Chromium: it must
// show the room's history (fetched over HTTP) and the pinned message,
// which only arrives over MQTT over WebSocket.
func TestBrowserViewerPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("STADION_CI") != "" {
			t.Fatal("chromium is missing: .ci/run installs the Debian package chromium")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	h := newHarness(t, testConfig)
	if code := h.do("POST", "/v1/live/curling/comments", h.token("u1", "Li Wei"), map[string]string{"text": "from the history"}, nil); code != 201 {
		t.Fatalf("post: %d", code)
	}
	if code := h.do("PUT", "/v1/live/curling/pinned", h.key("studio"), map[string]string{"text": "pinned over websocket"}, nil); code != 204 {
		t.Fatalf("pin: %d", code)
	}
	// --dump-dom prints the page once its virtual-time budget is spent;
	// on a loaded machine the WebSocket may not have brought the pin by
	// then, so the page is loaded again (bounded) until it shows it.
	wants := []string{"from the history", "Li Wei", "📌 pinned over websocket", "watching (read-only)"}
	var dom string
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", h.srv.URL+"/live/curling").Output()
		cancel()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		if dom = string(out); !slices.ContainsFunc(wants, func(w string) bool { return !strings.Contains(dom, w) }) {
			break
		}
	}
	for _, want := range wants {
		if !strings.Contains(dom, want) {
			t.Errorf("the page does not show %q:\n%s", want, dom)
		}
	}
	if code := h.do("GET", "/live/nowhere", "", nil, nil); code != 404 {
		t.Errorf("page of an unknown room: %d", code)
	}
}
