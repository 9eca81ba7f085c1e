package gate

import (
	"net/http"
	"testing"
	"time"
)

func issueOne(t *testing.T, c *cloudRig, key string, req TicketRequest) Issued {
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

func scan(t *testing.T, e *edgeRig, key, code, gate, dir string) ScanResult {
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
	eventually(t, "the scans in the cloud view", 15*time.Second, func() bool {
		var v VenueStatus
		call(t, "GET", c.url+"/v1/venues/bird-nest", c.admin, nil, &v)
		return v.Scans == 2 && v.Admitted == 1 && v.Rejected == 1
	})
}
