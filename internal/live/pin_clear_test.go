package live

import "testing"

// TestClearedPinReachesViewers: clearing a pin sends the viewers watching
// the room an empty, non-retained message (MQTT-3.3.1-10: a zero-byte
// retained message goes to current subscribers as normal), so that their
// pages hide it; it used to reach nobody, and a pin removed stayed on
// every open page. A later subscriber gets no pin.
func TestClearedPinReachesViewers(t *testing.T) {
	h := newHarness(t, testConfig)
	if code := h.do("PUT", "/v1/live/curling/pinned", h.key("studio"), map[string]string{"text": "Welcome"}, nil); code != 204 {
		t.Fatalf("pin: %d", code)
	}
	viewer := pahoConnect(t, "tcp://"+h.mqtt, "watching", "")
	ch := pahoSubscribe(t, viewer, "live/curling/pinned")
	if m := next(t, ch); string(m.Payload()) != `{"text":"Welcome"}` || !m.Retained() {
		t.Fatalf("pin %s retained=%v", m.Payload(), m.Retained())
	}
	if code := h.do("DELETE", "/v1/live/curling/pinned", h.key("studio"), nil, nil); code != 204 {
		t.Fatalf("unpin: %d", code)
	}
	if m := next(t, ch); len(m.Payload()) != 0 || m.Retained() {
		t.Fatalf("after unpinning, viewers got %q retained=%v, want an empty message, not retained", m.Payload(), m.Retained())
	}
	if n := len(h.s.retained.match("live/curling/pinned")); n != 0 {
		t.Fatalf("%d pins retained after unpinning", n)
	}
}
