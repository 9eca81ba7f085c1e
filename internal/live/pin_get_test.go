package live

import (
	"encoding/json"
	"testing"
)

// TestGetPinned: GET /v1/live/{room}/pinned answers the pinned message to
// whoever may read the room (the console shows it), null once cleared,
// and 404 for a room that is not configured.
func TestGetPinned(t *testing.T) {
	h := newHarness(t, testConfig)
	var got struct {
		Room   string          `json:"room"`
		Pinned json.RawMessage `json:"pinned"`
	}
	if code := h.do("GET", "/v1/live/curling/pinned", h.key("studio"), nil, &got); code != 200 || got.Room != "curling" || string(got.Pinned) != "null" {
		t.Fatalf("before pinning: %d %+v", code, got)
	}
	if code := h.do("PUT", "/v1/live/curling/pinned", h.key("studio"), map[string]string{"text": "Welcome"}, nil); code != 204 {
		t.Fatalf("pin: %d", code)
	}
	if code := h.do("GET", "/v1/live/curling/pinned", h.key("studio"), nil, &got); code != 200 || string(got.Pinned) != `{"text":"Welcome"}` {
		t.Fatalf("pinned: %d %s", code, got.Pinned)
	}
	if code := h.do("DELETE", "/v1/live/curling/pinned", h.key("studio"), nil, nil); code != 204 {
		t.Fatalf("unpin: %d", code)
	}
	got.Pinned = nil
	if code := h.do("GET", "/v1/live/curling/pinned", h.key("studio"), nil, &got); code != 200 || string(got.Pinned) != "null" {
		t.Fatalf("after unpinning: %d %s", code, got.Pinned)
	}
	if code := h.do("GET", "/v1/live/nowhere/pinned", h.key("studio"), nil, nil); code != 404 {
		t.Fatalf("unknown room: %d", code)
	}
}
