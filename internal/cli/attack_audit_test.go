package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/ops"
)

// TestAttackAuditTrailRewrite: nobody outside stadion writes, purges,
// deletes or redefines the AUDIT stream. A stolen admin-role key (one
// handed to a person, not the server's own admin.key) over plain NATS, in
// stadion's own account, publishes a forged entry, purges, deletes a
// message, deletes and updates the stream, and defines a stream that
// republishes into audit.>; a client key over plain NATS tries the same
// from its own account; viewer and operator keys are not admitted to NATS
// at all; the HTTP route takes no writes. The trail is unchanged after
// all of it, and the next real change is appended.
func TestAttackAuditTrailRewrite(t *testing.T) {
	p := startProc(t, t.TempDir())
	viewer, _ := roleKey(t, p, "viewer", "Vic")
	operator, _ := roleKey(t, p, "operator", "Olga")
	admin, _ := roleKey(t, p, "admin", "Anna")
	screens := p.createKey("screens")
	before := auditEntries(t, p, p.admin)
	if len(before) < 3 {
		t.Fatalf("the trail has %d entries before the attack", len(before))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := natsisoURL(t, p)

	forged, _ := json.Marshal(ops.AuditEntry{ID: "forged", Time: time.Now(), Outcome: "applied", Method: "DELETE", Path: "/v1/clients/odf/keys/x", Area: "keys", Status: 204})
	for _, who := range []struct{ name, key string }{{"admin", admin}, {"client screens", screens}} {
		var denied atomic.Int32
		nc, err := nats.Connect(url, nats.Token(who.key), nats.MaxReconnects(0), nats.Timeout(5*time.Second),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied.Add(1) }))
		if err != nil {
			t.Fatalf("%s: connect: %v", who.name, err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = js.Publish(pctx, "audit.keys", forged, jetstream.WithMsgID("forged"))
		pcancel()
		if err == nil {
			t.Errorf("%s: a forged entry was acknowledged", who.name)
		}
		_ = nc.Publish("audit.keys", forged)
		for _, api := range []struct{ subj, body string }{
			{"$JS.API.STREAM.PURGE.AUDIT", `{}`},
			{"$JS.API.STREAM.MSG.DELETE.AUDIT", `{"seq":1,"no_erase":true}`},
			{"$JS.API.STREAM.DELETE.AUDIT", ``},
			{"$JS.API.STREAM.UPDATE.AUDIT", `{"name":"AUDIT","subjects":["audit.>"],"max_age":1000000000,"storage":"file","num_replicas":1}`},
			{"$JS.API.STREAM.CREATE.EVIL", `{"name":"EVIL","subjects":["evil.>"],"storage":"memory","num_replicas":1,"republish":{"src":">","dest":"audit.keys"}}`},
		} {
			msg, err := nc.Request(api.subj, []byte(api.body), 2*time.Second)
			if err == nil && !strings.Contains(string(msg.Data), `"error"`) {
				t.Errorf("%s: %s answered %s", who.name, api.subj, msg.Data)
			}
		}
		_ = nc.Publish("evil.x", forged)
		_ = nc.Flush()
		if who.name == "admin" && denied.Load() == 0 && nc.LastError() == nil {
			t.Errorf("admin: no permission violation was reported")
		}
	}
	for _, k := range []struct{ name, key string }{{"viewer", viewer}, {"operator", operator}} {
		if nc, err := nats.Connect(url, nats.Token(k.key), nats.MaxReconnects(0), nats.Timeout(5*time.Second)); err == nil {
			nc.Close()
			t.Errorf("a %s key was admitted to plain NATS", k.name)
		} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Logf("%s refused: %v", k.name, err)
		}
	}
	// MQTT: topics map into mq.> only; a publish outside a client's
	// rights closes its connection.
	for _, k := range []struct{ name, key string }{{"admin", admin}, {"client screens", screens}} {
		lost := make(chan struct{})
		c := mqttDial(t, p, "audit-"+strings.ReplaceAll(k.name, " ", "-"), "x", k.key, true, lost)
		c.Publish("audit/keys", 1, false, forged).WaitTimeout(5 * time.Second)
		select {
		case <-lost:
		case <-time.After(20 * time.Second):
			t.Errorf("%s: MQTT publish to audit/keys did not close the connection", k.name)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if code, _, _, _ := call(t, p, m, "/v1/audit", p.admin, `{}`); code != 404 && code != 405 {
			t.Errorf("%s /v1/audit: %d, want no such route", m, code)
		}
	}

	after := auditEntries(t, p, p.admin)
	if len(after) != len(before) {
		t.Fatalf("the trail went from %d to %d entries", len(before), len(after))
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].Seq != before[i].Seq {
			t.Fatalf("entry %d changed: %+v -> %+v", i, before[i], after[i])
		}
	}
	p.createKey("odf")
	if n := len(auditEntries(t, p, p.admin)); n != len(before)+1 {
		t.Errorf("a real change after the attack: %d entries, want %d", n, len(before)+1)
	}
}
