package gate

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDiagnosticsOverTheLink: the cloud reaches the edge's status and logs
// through the edge's own connection, and says so clearly when it cannot.
func TestDiagnosticsOverTheLink(t *testing.T) {
	c := startCloud(t)
	startEdge(t, "bird-nest", tempDir(t, "edge"), c.eng.LeafURL(), c.credentials(t, "bird-nest"))
	var st EdgeStatus
	eventually(t, "the edge's status from the cloud", 15*time.Second, func() bool {
		return call(t, "GET", c.url+"/v1/venues/bird-nest/status", c.admin, nil, &st) == http.StatusOK && st.Link == "up"
	})
	if st.Venue != "bird-nest" || st.Domain != EdgeDomain("bird-nest") {
		t.Errorf("status %+v", st)
	}
	var logs LogsAnswer
	if code := call(t, "GET", c.url+"/v1/venues/bird-nest/logs?since=1h", c.admin, nil, &logs); code != http.StatusOK {
		t.Fatalf("logs: %d", code)
	}
	found := false
	for _, l := range logs.Lines {
		found = found || strings.Contains(l.Msg, "edge state replayed")
	}
	if !found || logs.Next == 0 {
		t.Errorf("the edge's start-up line is not in %d lines (next %d)", len(logs.Lines), logs.Next)
	}
	var later LogsAnswer
	call(t, "GET", c.url+"/v1/venues/bird-nest/logs?after="+itoa(logs.Next), c.admin, nil, &later)
	for _, l := range later.Lines {
		if l.Seq <= logs.Next {
			t.Errorf("line %d returned again after %d", l.Seq, logs.Next)
		}
	}
	if code := call(t, "GET", c.url+"/v1/venues/bird-nest/logs?since=soon", c.admin, nil, nil); code != http.StatusBadRequest {
		t.Errorf("bad since: %d", code)
	}
	if code := call(t, "GET", c.url+"/v1/venues/ice-cube/status", c.admin, nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("status of a venue without an edge: %d, want 503", code)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestCloudAuthorization: tickets and venues need the ticketing role or
// the admin; credentials and diagnostics need the admin.
func TestCloudAuthorization(t *testing.T) {
	c := startCloud(t)
	ticketing := createKey(t, c, "ticketing")
	other := createKey(t, c, "other")
	req := session("bird-nest")
	for _, tc := range []struct {
		method, path, key string
		body              any
		want              int
	}{
		{"POST", "/v1/tickets", other, req, http.StatusForbidden},
		{"POST", "/v1/tickets", ticketing, req, http.StatusCreated},
		{"POST", "/v1/tickets", "", req, http.StatusUnauthorized},
		{"GET", "/v1/venues", other, nil, http.StatusForbidden},
		{"GET", "/v1/venues", ticketing, nil, http.StatusOK},
		{"POST", "/v1/venues/bird-nest/credentials", ticketing, nil, http.StatusForbidden},
		{"POST", "/v1/venues/nowhere/credentials", c.admin, nil, http.StatusNotFound},
		{"GET", "/v1/venues/bird-nest/status", ticketing, nil, http.StatusForbidden},
		{"POST", "/v1/tickets/keys/rotate", ticketing, nil, http.StatusForbidden},
		{"POST", "/v1/tickets", ticketing, TicketRequest{Venue: "nowhere"}, http.StatusBadRequest},
		{"POST", "/v1/tickets", ticketing, map[string]any{"tickets": []any{}}, http.StatusBadRequest},
		{"GET", "/v1/tickets/ffffffffffffffffffffffff", ticketing, nil, http.StatusNotFound},
	} {
		if got := call(t, tc.method, c.url+tc.path, tc.key, tc.body, nil); got != tc.want {
			t.Errorf("%s %s as %.12s: %d, want %d", tc.method, tc.path, tc.key, got, tc.want)
		}
	}
}

func createKey(t *testing.T, c *cloudRig, client string) string {
	t.Helper()
	key, _, err := c.keys.Create(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
