package live

import (
	"encoding/json"
	"testing"
	"time"
)

// TestPinRefusesDuplicateKeys: a pinned message that names a member twice
// is refused through both doors, HTTP (400) and a moderator's MQTT
// publish (not retained); the pinned message before it stays.
func TestPinRefusesDuplicateKeys(t *testing.T) {
	h := newHarness(t, testConfig)
	studio := h.key("studio")
	if code := h.do("PUT", "/v1/live/curling/pinned", studio, map[string]string{"text": "Welcome"}, nil); code != 204 {
		t.Fatalf("pin: %d", code)
	}
	if code := h.do("PUT", "/v1/live/curling/pinned", studio, json.RawMessage(`{"text":"EVIL","text":"CLEAR"}`), nil); code != 400 {
		t.Fatalf("pin with a duplicate member: %d, want 400", code)
	}
	// Over MQTT the engine answers a refused publish by closing the
	// moderator's connection (MQTT 3.1.1 has no negative PUBACK).
	mod := pahoConnect(t, "tcp://"+h.mqtt, "studio-mqtt", studio)
	mod.Publish("live/curling/pinned", 1, true, `{"text":"EVIL","\u0074ext":"CLEAR"}`).WaitTimeout(10 * time.Second)
	late := pahoConnect(t, "tcp://"+h.mqtt, "late", "")
	if pinned := next(t, pahoSubscribe(t, late, "live/curling/pinned")); string(pinned.Payload()) != `{"text":"Welcome"}` {
		t.Fatalf("pinned %s; want the message before the refused ones", pinned.Payload())
	}
	mod = pahoConnect(t, "tcp://"+h.mqtt, "studio-mqtt-2", studio)
	if tok := mod.Publish("live/curling/pinned", 1, true, `{"text":"Final!"}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("legitimate pin over MQTT: %v", tok.Error())
	}
	later := pahoConnect(t, "tcp://"+h.mqtt, "later", "")
	if pinned := next(t, pahoSubscribe(t, later, "live/curling/pinned")); string(pinned.Payload()) != `{"text":"Final!"}` {
		t.Fatalf("pinned %s; want the legitimate pin", pinned.Payload())
	}
}
