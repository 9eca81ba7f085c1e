package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
	"github.com/stadion-dev/stadion/internal/gate"
)

// The attacks in this file hold one venue's edge credentials (ice-cube's,
// or bird-nest's own when revoked) and nothing else: they run their own
// engine linked to the cloud's leafnode port with them, as anyone with the
// credentials file can, and send what the link lets through. Beside them
// bird-nest's real `stadion edge` keeps admitting tickets and following
// the cloud's control state.

// gateAttackRig is a cloud with live comments on (so the engine's own secrets
// exist), bird-nest's real edge, and ice-cube's credentials in the
// attacker's hands.
type gateAttackRig struct {
	cloud  *gateCloud
	edge   *proc
	scan   *scanner
	stolen gate.Credentials
	admin  *nats.Conn // the cloud's engine, as its admin
	js     jetstream.JetStream
}

func startGateAttackRig(t *testing.T) *gateAttackRig {
	t.Helper()
	dir := t.TempDir()
	cloud := startGateCloudConfig(t, filepath.Join(dir, "cloud"), "testdata/gate/attack.yaml")
	edge := startEdgeProc(t, filepath.Join(dir, "edge"), "bird-nest", "nats://"+cloud.leaf, cloud.credsFile(t, "bird-nest", dir))
	r := &gateAttackRig{cloud: cloud, edge: edge, scan: newScanner(edge, edge.admin)}
	if code := cloud.request("POST", "/v1/venues/ice-cube/credentials", cloud.admin, "", &r.stolen); code != http.StatusCreated {
		t.Fatalf("ice-cube credentials: %d", code)
	}
	r.admin, r.js = gateAdminNATS(t, cloud)
	return r
}

// gateAdminNATS connects to the cloud's engine with the admin key.
func gateAdminNATS(t *testing.T, c *gateCloud) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.data, client.EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ep client.Endpoints
	if err := json.Unmarshal(raw, &ep); err != nil || ep.NATS == "" {
		t.Fatalf("endpoints %s: %v", raw, err)
	}
	nc, err := nats.Connect(ep.NATS, nats.Token(c.admin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// gateWait polls cond for up to 20 s.
func gateWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gateRogue links an engine of the attacker's to the cloud with creds.
func gateRogue(t *testing.T, c *gateCloud, creds gate.Credentials) *engine.Engine {
	t.Helper()
	eng := enginetest.Start(t, enginetest.Sync(false), enginetest.With(func(o *engine.Options) {
		o.ClientAddr, o.Domain, o.Name = "", gate.EdgeDomain(creds.Venue), "rogue-"+creds.Venue
		o.MaxMemory, o.MaxDisk = 32<<20, 256<<20
		o.Leaf = &engine.LeafRemote{URL: "nats://" + c.leaf, User: creds.Venue, Password: creds.Password}
	}))
	gateWait(t, "the rogue link", eng.LeafConnected)
	// The cloud's interest crosses a new link after it connects; a plain
	// NATS attack sent before would be dropped unseen and prove nothing.
	// Once the cloud answers the venue's own catch-up, it has arrived.
	gateWait(t, "the cloud answering "+creds.Venue+"'s own catch-up", func() bool { return gateAnswered(t, eng, creds.Venue) })
	return eng
}

// gateAnswered reports whether the cloud answers a catch-up request of
// venue sent over rogue in the venue's reply namespace: the cloud handles
// a venue's requests in order, so once it answers one, it has handled
// those sent before.
func gateAnswered(t *testing.T, rogue *engine.Engine, venue string) bool {
	t.Helper()
	inbox := "gate." + venue + ".syncreply." + nats.NewInbox()[len("_INBOX."):]
	sub, err := rogue.Conn.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := rogue.Conn.PublishRequest("gate."+venue+".sync", inbox, []byte(`{"after":0}`)); err != nil {
		t.Fatal(err)
	}
	_, err = sub.NextMsg(2 * time.Second)
	return err == nil
}

// gateSyncReplyAttack sends ice-cube catch-up requests whose replies name
// targets, plus JetStream API requests (which answer any reply) and a
// push consumer delivering into the first target.
func gateSyncReplyAttack(t *testing.T, rogue *engine.Engine, targets ...string) {
	t.Helper()
	gateWait(t, "the cloud answering ice-cube's own catch-up", func() bool { return gateAnswered(t, rogue, "ice-cube") })
	for _, target := range targets {
		for _, subj := range []string{
			"gate.ice-cube.sync",
			"$JS.cloud.API.STREAM.INFO.GATEV_ice-cube",
			"$JS.cloud.API.CONSUMER.INFO.GATEV_ice-cube.x",
		} {
			if err := rogue.Conn.PublishRequest(subj, target, []byte(`{"after":0}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	push, _ := json.Marshal(map[string]any{"stream_name": "GATEV_ice-cube", "config": map[string]any{
		"deliver_subject": targets[0], "ack_policy": "none", "deliver_policy": "all"}})
	_ = rogue.Conn.PublishRequest("$JS.cloud.API.CONSUMER.CREATE.GATEV_ice-cube", "gate.ice-cube.syncreply.x", push)
	if !gateAnswered(t, rogue, "ice-cube") {
		t.Fatal("the cloud stopped answering ice-cube's own catch-up")
	}
}

func (r *gateAttackRig) kvRevision(t *testing.T, bucket, key string) uint64 {
	t.Helper()
	ctx := context.Background()
	kv, err := r.js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatalf("bucket %s: %v", bucket, err)
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		t.Fatalf("%s/%s: %v", bucket, key, err)
	}
	return e.Revision()
}

func (r *gateAttackRig) lastSeq(t *testing.T, stream string) uint64 {
	t.Helper()
	s, err := r.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// admits issues a bird-nest ticket and scans it in at its edge (waiting
// for the edge to know the signing key); it returns the ticket.
func (r *gateAttackRig) admits(t *testing.T) gate.Issued {
	t.Helper()
	tk := r.cloud.issue(t, "bird-nest", 1)[0]
	var res gate.ScanResult
	gateWait(t, "bird-nest admitting its ticket", func() bool {
		var err error
		res, err = r.scan.scan(tk.Code, "north-1", "in")
		return err == nil && res.Decision == gate.Accept
	})
	return tk
}

// syncs revokes a fresh bird-nest ticket in the cloud and waits until
// bird-nest's edge refuses it as revoked: the control state still flows.
func (r *gateAttackRig) syncs(t *testing.T) {
	t.Helper()
	tk := r.cloud.issue(t, "bird-nest", 1)[0]
	if code := r.cloud.request("POST", "/v1/tickets/"+tk.ID+"/revoke", r.cloud.admin, "", nil); code != http.StatusOK {
		t.Fatalf("revoke ticket: %d", code)
	}
	gateWait(t, "the revocation at bird-nest's edge", func() bool {
		res, err := r.scan.scan(tk.Code, "north-1", "in")
		return err == nil && res.Reason == gate.ReasonRevoked
	})
}

// TestAttackEdgeSyncReplyWritesOtherVenueCreds: with ice-cube's
// credentials, catch-up and JetStream requests whose reply is bird-nest's
// entry in gate-creds write nothing there; bird-nest's edge still links
// after a restart, admits and syncs.
func TestAttackEdgeSyncReplyWritesOtherVenueCreds(t *testing.T) {
	r := startGateAttackRig(t)
	r.admits(t)
	before := r.kvRevision(t, "gate-creds", "bird-nest")
	rogue := gateRogue(t, r.cloud, r.stolen)
	gateSyncReplyAttack(t, rogue, "$KV.gate-creds.bird-nest")
	if got := r.kvRevision(t, "gate-creds", "bird-nest"); got != before {
		t.Fatalf("bird-nest's credentials were written: revision %d -> %d", before, got)
	}
	// The symptom the attack aimed at: bird-nest locked out at its next link.
	r.edge.kill9()
	r.edge = startEdgeProcArgs(t, r.edge.data, "bird-nest", "nats://"+r.cloud.leaf, filepath.Join(filepath.Dir(r.cloud.data), "bird-nest.creds"))
	r.scan = newScanner(r.edge, r.edge.admin)
	gateWait(t, "bird-nest's edge linked again", func() bool { return edgeStatus(t, r.edge).Link == "up" })
	r.admits(t)
	r.syncs(t)
}

// TestAttackEdgeSyncReplyOverwritesTokenKey: the same requests aimed at
// the viewer token key and the subscriptions' consumer key write nothing.
func TestAttackEdgeSyncReplyOverwritesTokenKey(t *testing.T) {
	r := startGateAttackRig(t)
	tokenKey := r.kvRevision(t, "stadion-live", "token-key")
	consumerKey := r.kvRevision(t, "stadion-subscriptions", "_consumer-key")
	rogue := gateRogue(t, r.cloud, r.stolen)
	gateSyncReplyAttack(t, rogue, "$KV.stadion-live.token-key", "$KV.stadion-subscriptions._consumer-key")
	if got := r.kvRevision(t, "stadion-live", "token-key"); got != tokenKey {
		t.Errorf("the viewer token key was written: revision %d -> %d", tokenKey, got)
	}
	if got := r.kvRevision(t, "stadion-subscriptions", "_consumer-key"); got != consumerKey {
		t.Errorf("the consumer key was written: revision %d -> %d", consumerKey, got)
	}
	r.admits(t)
	r.syncs(t)
}

// TestAttackEdgeForgesAdmissionsOfOtherVenue: with ice-cube's credentials,
// neither a forwarded batch of bird-nest scans (of a real bird-nest
// ticket) nor a catch-up reply into the admissions topic puts anything in
// the topic or bird-nest's view; bird-nest's own admission arrives.
func TestAttackEdgeForgesAdmissionsOfOtherVenue(t *testing.T) {
	r := startGateAttackRig(t)
	victim := r.cloud.issue(t, "bird-nest", 1)[0]
	rogue := gateRogue(t, r.cloud, r.stolen)
	forged, _ := json.Marshal(map[string]any{"scans": []map[string]any{{
		"id": "00112233445566778899aabb", "venue": "bird-nest", "gate": "north-1", "direction": "in",
		"at": time.Now().UTC(), "decision": "accept",
		"ticket": map[string]any{"id": victim.ID, "venue": "bird-nest", "session": "CER-OPENING"},
	}}})
	for _, subj := range []string{"gate.ice-cube.fwd", "gate.bird-nest.fwd"} {
		m := nats.NewMsg(subj)
		m.Reply, m.Data = "gate.ice-cube.fwdreply.x", forged
		m.Header.Set("Stadion-Scans-Total", "1")
		if err := rogue.Conn.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	gateSyncReplyAttack(t, rogue, "topic.admissions.forged")
	mine := r.admits(t)
	gateWait(t, "bird-nest's admission in the topic", func() bool {
		return len(r.cloud.readAll("admissions", r.cloud.admin)) > 0
	})
	for _, ev := range r.cloud.readAll("admissions", r.cloud.admin) {
		data, _ := ev["data"].(map[string]any)
		if data["ticket_id"] != mine.ID {
			t.Errorf("an admission that bird-nest's edge did not make: %v", ev)
		}
	}
	gateWait(t, "bird-nest's view", func() bool { return r.cloud.venue(t, "bird-nest").Admitted >= 1 })
	if v := r.cloud.venue(t, "bird-nest"); v.Admitted != 1 {
		t.Errorf("bird-nest's view counts %d admissions, want 1", v.Admitted)
	}
	if v := r.cloud.venue(t, "ice-cube"); v.Admitted != 0 {
		t.Errorf("ice-cube's view counts %d admissions, want 0", v.Admitted)
	}
	r.syncs(t)
}

// TestAttackEdgeWritesOtherVenueCtl: with ice-cube's credentials, neither
// a catch-up reply into bird-nest's control subjects (a revocation of a
// bird-nest ticket, a configuration) nor a direct publish there is
// stored; the ticket is still admitted at bird-nest.
func TestAttackEdgeWritesOtherVenueCtl(t *testing.T) {
	r := startGateAttackRig(t)
	r.admits(t) // the edge has its keys and configuration
	victim := r.cloud.issue(t, "bird-nest", 1)[0]
	before := r.lastSeq(t, "GATEV_bird-nest")
	rogue := gateRogue(t, r.cloud, r.stolen)
	for _, subj := range []string{"gate.bird-nest.ctl.revoke." + victim.ID, "gate.bird-nest.ctl.config"} {
		_ = rogue.Conn.Publish(subj, []byte(`{"ticket":"`+victim.ID+`","venue":"bird-nest"}`))
	}
	gateSyncReplyAttack(t, rogue, "gate.bird-nest.ctl.revoke."+victim.ID, "gate.bird-nest.ctl.config")
	if got := r.lastSeq(t, "GATEV_bird-nest"); got != before {
		t.Errorf("bird-nest's control stream was written: last sequence %d -> %d", before, got)
	}
	res, err := r.scan.scan(victim.Code, "north-1", "in")
	if err != nil || res.Decision != gate.Accept {
		t.Errorf("bird-nest's ticket after the attack: %+v %v", res, err)
	}
	r.syncs(t)
}

// TestAttackRevokedVenueKeepsLink: a link made with bird-nest's
// credentials closes within a second of `stadion venue revoke bird-nest`
// and cannot come back; ice-cube's real edge keeps admitting.
func TestAttackRevokedVenueKeepsLink(t *testing.T) {
	dir := t.TempDir()
	cloud := startGateCloudConfig(t, filepath.Join(dir, "cloud"), "testdata/gate/attack.yaml")
	var stolen gate.Credentials
	if code := cloud.request("POST", "/v1/venues/bird-nest/credentials", cloud.admin, "", &stolen); code != http.StatusCreated {
		t.Fatalf("bird-nest credentials: %d", code)
	}
	ice := startEdgeProc(t, filepath.Join(dir, "ice"), "ice-cube", "nats://"+cloud.leaf, cloud.credsFile(t, "ice-cube", dir))
	rogue := gateRogue(t, cloud, stolen)

	if _, errOut, code := runCLI(t, cloud.proc, "venue", "revoke", "bird-nest"); code != 0 {
		t.Fatalf("venue revoke: exit %d %s", code, errOut)
	}
	revoked := time.Now()
	for rogue.LeafConnected() {
		if time.Since(revoked) > time.Second {
			t.Fatal("the revoked link is still up after 1s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if rogue.LeafConnected() {
			t.Fatal("the revoked credentials linked again")
		}
	}

	tk := cloud.issue(t, "ice-cube", 1)[0]
	sc := newScanner(ice, ice.admin)
	gateWait(t, "ice-cube admitting its ticket", func() bool {
		res, err := sc.scan(tk.Code, "east-1", "in")
		return err == nil && res.Decision == gate.Accept
	})
	if s := edgeStatus(t, ice); s.Link != "up" {
		t.Errorf("ice-cube's link: %s", s.Link)
	}
}
