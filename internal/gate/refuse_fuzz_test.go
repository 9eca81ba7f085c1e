package gate

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzInReplyNamespace: an accepted reply is exactly one literal token
// under the prefix.
func FuzzInReplyNamespace(f *testing.F) {
	for _, s := range []string{
		"gate.bird-nest.syncreply.abc", "gate.bird-nest.syncreply.", "gate.bird-nest.syncreply.a.b",
		"gate.bird-nest.syncreply.*", "gate.bird-nest.syncreply.>", "$KV.gate-creds.ice-cube",
		"gate.ice-cube.syncreply.x", "gate.bird-nest.syncreply.a b", "",
	} {
		f.Add(s)
	}
	prefix := syncReplyPrefix("bird-nest")
	f.Fuzz(func(t *testing.T, reply string) {
		if !inReplyNamespace(reply, prefix) {
			return
		}
		rest, ok := strings.CutPrefix(reply, prefix)
		if !ok || rest == "" || strings.ContainsAny(rest, ".*> \t\r\n") {
			t.Fatalf("accepted %q", reply)
		}
	})
}

// FuzzScanShape: whatever a batch holds, the scans kept are the venue's,
// with a known decision and direction, and an accepted one names a ticket
// of the venue.
func FuzzScanShape(f *testing.F) {
	good, _ := json.Marshal(batch{Scans: []Scan{acceptScan("bird-nest", "t1", "bird-nest")}})
	f.Add(good)
	other, _ := json.Marshal(batch{Scans: []Scan{acceptScan("ice-cube", "t1", "ice-cube")}})
	f.Add(other)
	f.Add([]byte(`{"scans":[{"id":"00112233445566778899aabb","venue":"bird-nest","gate":"x","direction":"out","at":"2026-01-01T00:00:00Z","decision":"reject","reason":"r"}]}`))
	f.Add([]byte(`{"scans":[{"venue":"bird-nest","decision":"accept"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b batch
		if json.Unmarshal(raw, &b) != nil {
			return
		}
		for _, s := range b.Scans {
			if scanShape(&s, "bird-nest") != "" {
				continue
			}
			if s.Venue != "bird-nest" || (s.Direction != "in" && s.Direction != "out") || len(s.ID) != 24 {
				t.Fatalf("kept %+v", s)
			}
			switch s.Decision {
			case Reject:
			case Accept:
				if s.Ticket == nil || s.Ticket.Venue != "bird-nest" {
					t.Fatalf("kept accepted %+v", s)
				}
			default:
				t.Fatalf("kept decision %q", s.Decision)
			}
		}
	})
}
