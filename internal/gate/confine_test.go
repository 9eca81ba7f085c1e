package gate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stadion-dev/stadion/internal/engine"
)

// ask sends one request from a raw link on subject with an answer inbox
// under prefix and returns the answer, or nil after a second.
func askRaw(t *testing.T, eng *engine.Engine, subject, prefix string, data []byte, hdr nats.Header) []byte {
	t.Helper()
	inbox := prefix + nuid.Next()
	sub, err := eng.Conn.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	m := &nats.Msg{Subject: subject, Reply: inbox, Data: data, Header: hdr}
	if err := eng.Conn.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(time.Second)
	if err != nil {
		return nil
	}
	return got.Data
}

func kvRevision(t *testing.T, c *cloudRig, bucket, key string) uint64 {
	t.Helper()
	kv, err := c.eng.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("%s/%s: %v", bucket, key, err)
	}
	return e.Revision()
}

func lastSeq(t *testing.T, c *cloudRig, stream string) uint64 {
	t.Helper()
	s, err := c.eng.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// TestSyncAnswersOnlyInTheVenueNamespace: a catch-up request sent with
// bird-nest's credentials and a reply subject of the sender's choice is
// answered only when the reply is in gate.bird-nest.syncreply.; nothing
// is written to another venue's credentials or control stream.
func TestSyncAnswersOnlyInTheVenueNamespace(t *testing.T) {
	c := startCloud(t)
	c.credentials(t, "ice-cube")
	bn := linkRaw(t, c, "bird-nest", c.credentials(t, "bird-nest"))
	eventually(t, "the bird-nest link", 10*time.Second, bn.LeafConnected)
	own := func() bool {
		return askRaw(t, bn, syncSubject("bird-nest"), syncReplyPrefix("bird-nest"), []byte(`{"after":0}`), nil) != nil
	}
	eventually(t, "an answer in bird-nest's namespace", 10*time.Second, own)
	credsRev := kvRevision(t, c, "gate-creds", "ice-cube")
	ctlSeq := lastSeq(t, c, ctlStream("ice-cube"))
	ownCtlSeq := lastSeq(t, c, ctlStream("bird-nest"))
	// Its own control subjects are the cloud's to write, not the edge's.
	_ = bn.Conn.Publish(configSubject("bird-nest"), []byte(`{"venue":"bird-nest","version":99}`))
	for _, reply := range []string{
		"$KV.gate-creds.ice-cube", "$KV.stadion-live.token-key", "gate.ice-cube.ctl.config",
		"topic.admissions.x", syncReplyPrefix("bird-nest") + "a.b", syncReplyPrefix("ice-cube") + "x",
	} {
		if err := bn.Conn.PublishRequest(syncSubject("bird-nest"), reply, []byte(`{"after":0}`)); err != nil {
			t.Fatal(err)
		}
	}
	// Requests are handled in order: once a later one is answered, the
	// ones above were handled.
	if !own() {
		t.Fatal("no answer in bird-nest's namespace after the attack")
	}
	if got := kvRevision(t, c, "gate-creds", "ice-cube"); got != credsRev {
		t.Errorf("ice-cube's credentials were written (revision %d -> %d)", credsRev, got)
	}
	if got := lastSeq(t, c, ctlStream("ice-cube")); got != ctlSeq {
		t.Errorf("ice-cube's control stream was written (%d -> %d)", ctlSeq, got)
	}
	if got := lastSeq(t, c, ctlStream("bird-nest")); got != ownCtlSeq {
		t.Errorf("bird-nest's edge wrote its own control stream (%d -> %d)", ownCtlSeq, got)
	}
	if n := testutil.ToFloat64(c.cloud.m.refused.WithLabelValues("bird-nest", refusedSyncReply)); n != 6 {
		t.Errorf("refused sync replies: %v, want 6", n)
	}
}

func forwardRaw(t *testing.T, eng *engine.Engine, b batch) *fwdAnswer {
	t.Helper()
	raw, _ := json.Marshal(b)
	hdr := nats.Header{}
	hdr.Set(scansTotalHeader, "1")
	ans := askRaw(t, eng, fwdSubject("bird-nest"), fwdReplyPrefix("bird-nest"), raw, hdr)
	if ans == nil {
		return nil
	}
	var a fwdAnswer
	if err := json.Unmarshal(ans, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

func acceptScan(venue, ticketID, ticketVenue string) Scan {
	return Scan{
		ID: hex.EncodeToString(randomBytes(12)), Venue: venue, Gate: "north-1", Direction: "in",
		At: time.Now().UTC(), Decision: Accept, Ticket: &Ticket{ID: ticketID, Venue: ticketVenue, Session: "FORGED"},
	}
}

// TestForwardedScansAreTheVenuesOwn: scans forwarded with bird-nest's
// credentials reach the view and the admissions topic only when they are
// bird-nest's and name a ticket issued for it (with the issued ticket's
// data, not the sender's).
func TestForwardedScansAreTheVenuesOwn(t *testing.T) {
	c := startCloud(t)
	bn := linkRaw(t, c, "bird-nest", c.credentials(t, "bird-nest"))
	eventually(t, "the bird-nest link", 10*time.Second, bn.LeafConnected)
	mine := issueOne(t, c, c.admin, session("bird-nest"))
	theirs := issueOne(t, c, c.admin, session("ice-cube"))

	legit := acceptScan("bird-nest", mine.ID, "bird-nest")
	var a *fwdAnswer
	eventually(t, "a forwarded batch stored", 10*time.Second, func() bool {
		a = forwardRaw(t, bn, batch{Scans: []Scan{legit}})
		return a != nil
	})
	if a.Seq == 0 {
		t.Fatalf("legit batch: %+v", a)
	}
	for name, s := range map[string]Scan{
		"other venue":          acceptScan("ice-cube", theirs.ID, "ice-cube"),
		"other venue's ticket": acceptScan("bird-nest", theirs.ID, "bird-nest"),
		"ticket never issued":  acceptScan("bird-nest", "0123456789abcdef01234567", "bird-nest"),
		"not a ticket id":      acceptScan("bird-nest", "$KV.gate-tickets.>", "bird-nest"),
	} {
		if a := forwardRaw(t, bn, batch{Scans: []Scan{s}}); a == nil {
			t.Errorf("%s: no answer", name)
		}
	}
	eventually(t, "the view of bird-nest", 10*time.Second, func() bool {
		return testutil.ToFloat64(c.cloud.m.refused.WithLabelValues("bird-nest", refusedScan)) == 4
	})
	var v VenueStatus
	if code := call(t, "GET", c.url+"/v1/venues/bird-nest", c.admin, nil, &v); code != http.StatusOK || v.Admitted != 1 {
		t.Errorf("view: %d %+v, want 1 admitted", code, v)
	}
	var page struct {
		Events []struct {
			Data admission `json:"data"`
		} `json:"events"`
	}
	eventually(t, "the admission", 10*time.Second, func() bool {
		call(t, "GET", c.url+"/v1/topics/admissions/events?limit=100", c.admin, nil, &page)
		return len(page.Events) > 0
	})
	if len(page.Events) != 1 || page.Events[0].Data.TicketID != mine.ID || page.Events[0].Data.Session != "CUR-M-FNL" {
		t.Errorf("admissions: %+v, want only %s with its issued session", page.Events, mine.ID)
	}
}

// TestRevokingCredentialsClosesTheLink: revoking a venue's credentials,
// or replacing them, closes the links made with them within a second;
// the other venue's link stays.
func TestRevokingCredentialsClosesTheLink(t *testing.T) {
	c := startCloud(t)
	bn := linkRaw(t, c, "bird-nest", c.credentials(t, "bird-nest"))
	ic := linkRaw(t, c, "ice-cube", c.credentials(t, "ice-cube"))
	eventually(t, "both links", 10*time.Second, func() bool { return bn.LeafConnected() && ic.LeafConnected() })

	// Only the admin may cut a venue off: a ticketing client cannot.
	ticketing, _, err := c.keys.Create(context.Background(), "ticketing")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, "DELETE", c.url+"/v1/venues/bird-nest/credentials", ticketing, nil, nil); code != http.StatusForbidden {
		t.Fatalf("revoke by a ticketing client: %d, want 403", code)
	}
	if !bn.LeafConnected() {
		t.Fatal("a refused revocation closed bird-nest's link")
	}
	if code := call(t, "DELETE", c.url+"/v1/venues/bird-nest/credentials", c.admin, nil, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	eventually(t, "bird-nest's link closed", time.Second, func() bool { return !bn.LeafConnected() })
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if bn.LeafConnected() {
			t.Fatal("bird-nest linked again with revoked credentials")
		}
	}
	if !ic.LeafConnected() {
		t.Error("ice-cube's link closed too")
	}

	old := ic
	fresh := c.credentials(t, "ice-cube") // replaces the old secret
	eventually(t, "the link of the replaced credentials closed", time.Second, func() bool { return !old.LeafConnected() })
	again := linkRaw(t, c, "ice-cube", fresh)
	eventually(t, "a link with the new credentials", 10*time.Second, again.LeafConnected)
	if n := testutil.ToFloat64(c.cloud.m.kicked.WithLabelValues("bird-nest")); n != 1 {
		t.Errorf("links closed for bird-nest: %v, want 1", n)
	}
}

// TestSyncFloodIsBounded: a venue flooding catch-up requests is answered
// at most at its rate, the rest refused or dropped and counted, and its
// requests are answered again once it stops.
func TestSyncFloodIsBounded(t *testing.T) {
	c := startCloud(t)
	bn := linkRaw(t, c, "bird-nest", c.credentials(t, "bird-nest"))
	eventually(t, "the bird-nest link", 10*time.Second, bn.LeafConnected)
	own := func() bool {
		return askRaw(t, bn, syncSubject("bird-nest"), syncReplyPrefix("bird-nest"), []byte(`{"after":0}`), nil) != nil
	}
	eventually(t, "an answer in bird-nest's namespace", 10*time.Second, own)
	for range 2000 {
		_ = bn.Conn.PublishRequest(syncSubject("bird-nest"), syncReplyPrefix("bird-nest")+"flood", []byte(`{"after":0}`))
	}
	_ = bn.Conn.Flush()
	eventually(t, "the flood counted", 10*time.Second, func() bool {
		limited := testutil.ToFloat64(c.cloud.m.refused.WithLabelValues("bird-nest", refusedSyncRate))
		return limited+c.cloud.m.droppedTotal() > 0
	})
	eventually(t, "an answer after the flood", 15*time.Second, own)
}
