package gate

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func issueOne(t testing.TB, c *cloudRig, key string, req TicketRequest) Issued {
	t.Helper()
	var out Issued
	if code := call(t, "POST", c.url+"/v1/tickets", key, req, &out); code != http.StatusCreated {
		t.Fatalf("issue: %d", code)
	}
	return out
}

func session(venue string) TicketRequest {
	now := time.Now().UTC()
	return TicketRequest{Venue: venue, Session: "CUR-M-FNL", ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(3 * time.Hour), Zone: "N", Seat: "12-7", Holder: "h-1"}
}

func scan(t testing.TB, e *edgeRig, key, code, gate, dir string) ScanResult {
	t.Helper()
	var out ScanResult
	if st := call(t, "POST", e.url+"/v1/scan", key, ScanRequest{Code: code, Gate: gate, Direction: dir}, &out); st != http.StatusOK {
		t.Fatalf("scan: %d", st)
	}
	return out
}

func TestScanFlowReachesCloud(t *testing.T) {
	c := startCloud(t)
	cr := c.credentials(t, "bird-nest")
	e := startEdge(t, "bird-nest", tempDir(t, "edge"), c.eng.LeafURL(), cr)
	tk := issueOne(t, c, c.admin, session("bird-nest"))
	eventually(t, "the signing key at the edge", 15*time.Second, func() bool {
		return len(e.edge.ctl.summary().Keys) > 0
	})
	if r := scan(t, e, e.admin, tk.Code, "north-1", "in"); r.Decision != Accept {
		t.Fatalf("first scan: %+v", r)
	}
	r := scan(t, e, e.admin, tk.Code, "north-2", "in")
	if r.Decision != Reject || r.Reason != ReasonAdmitted || r.First == nil || r.First.Gate != "north-1" {
		t.Fatalf("second scan: %+v", r)
	}
	var dev struct{ Key, ID string }
	if code := call(t, "POST", e.url+"/v1/devices/north-1-a/keys", e.admin, nil, &dev); code != http.StatusCreated {
		t.Fatalf("device key: %d", code)
	}
	if r := scan(t, e, dev.Key, tk.Code, "north-1", "out"); r.Decision != Accept {
		t.Fatalf("exit with a device key: %+v", r)
	}
	if code := call(t, "POST", e.url+"/v1/devices/other/keys", dev.Key, nil, nil); code != http.StatusForbidden {
		t.Errorf("a device key made a device key: %d", code)
	}
	if code := call(t, "DELETE", e.url+"/v1/devices/north-1-a/keys/"+dev.ID, e.admin, nil, nil); code != http.StatusNoContent {
		t.Fatalf("revoke device key: %d", code)
	}
	eventually(t, "the revoked device key refused", 5*time.Second, func() bool {
		return call(t, "POST", e.url+"/v1/scan", dev.Key, ScanRequest{Code: tk.Code, Gate: "north-1"}, nil) == http.StatusUnauthorized
	})
	eventually(t, "the scans in the cloud view", 15*time.Second, func() bool {
		var v VenueStatus
		call(t, "GET", c.url+"/v1/venues/bird-nest", c.admin, nil, &v)
		return v.Scans == 3 && v.Admitted == 2 && v.Rejected == 1 && v.Received == 3
	})
	// The edge's decision latencies came with the scans: the cloud counted
	// each of the three once (the gate_decision_latency SLO reads them).
	if total, _ := decisionCount(t, c.cloud, "bird-nest", 1e9); total != 3 {
		t.Fatalf("the cloud counted %d decision latencies of bird-nest, want 3", total)
	}
}

// TestKeyRotationAndWindow: after a rotation both keys verify; a retired
// key's tickets are refused; a ticket outside its session window is too.
func TestKeyRotationAndWindow(t *testing.T) {
	c := startCloud(t)
	e := startEdge(t, "bird-nest", tempDir(t, "edge"), c.eng.LeafURL(), c.credentials(t, "bird-nest"))
	old := issueOne(t, c, c.admin, session("bird-nest"))
	var k PublicKey
	if code := call(t, "POST", c.url+"/v1/tickets/keys/rotate", c.admin, nil, &k); code != http.StatusCreated {
		t.Fatalf("rotate: %d", code)
	}
	fresh := issueOne(t, c, c.admin, session("bird-nest"))
	late := session("bird-nest")
	late.ValidFrom, late.ValidUntil = time.Now().Add(-5*time.Hour), time.Now().Add(-4*time.Hour)
	expired := issueOne(t, c, c.admin, late)
	eventually(t, "both keys at the edge", 15*time.Second, func() bool { return len(e.edge.ctl.summary().Keys) == 2 })
	if r := scan(t, e, e.admin, fresh.Code, "north-1", "in"); r.Decision != Accept || r.Ticket.KeyID != k.ID {
		t.Errorf("ticket of the new key: %+v", r)
	}
	if r := scan(t, e, e.admin, expired.Code, "north-1", "in"); r.Reason != ReasonWindow {
		t.Errorf("expired ticket: %+v", r)
	}
	d, _ := DecodeCode(old.Code)
	if code := call(t, "POST", c.url+"/v1/tickets/keys/"+strconv.FormatUint(uint64(d.Ticket.KeyID), 10)+"/retire", c.admin, nil, &PublicKey{}); code != http.StatusOK {
		t.Fatalf("retire: %d", code)
	}
	eventually(t, "the retirement at the edge", 15*time.Second, func() bool {
		_, ok := e.edge.ctl.key(d.Ticket.KeyID)
		return !ok
	})
	if r := scan(t, e, e.admin, old.Code, "north-1", "in"); r.Reason != ReasonUnknownKey {
		t.Errorf("ticket of the retired key: %+v", r)
	}
	if code := call(t, "POST", c.url+"/v1/tickets/keys/"+strconv.FormatUint(uint64(k.ID), 10)+"/retire", c.admin, nil, nil); code != http.StatusConflict {
		t.Errorf("retiring the last active key: %d, want 409", code)
	}
}
