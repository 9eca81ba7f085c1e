package gate

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// linkRaw starts a bare engine in venue's edge domain, linked to the cloud
// with creds: what anyone holding a venue's credentials file can run.
func linkRaw(t *testing.T, c *cloudRig, venue string, creds Credentials) *engine.Engine {
	t.Helper()
	return enginetest.Start(t, enginetest.Logger(testLogger(t)), enginetest.With(func(o *engine.Options) {
		o.ClientAddr, o.Domain, o.Name = "", EdgeDomain(venue), "raw-"+venue
		o.MaxMemory, o.MaxDisk = 32<<20, 256<<20
		o.Leaf = &engine.LeafRemote{URL: c.eng.LeafURL(), User: creds.Venue, Password: creds.Password}
	}))
}

// TestVenueCredentialsAreConfined: bird-nest's credentials carry its own
// subjects across the link and nothing of ice-cube's, in either direction,
// and reach only its own control stream in the cloud.
func TestVenueCredentialsAreConfined(t *testing.T) {
	c := startCloud(t)
	bn := linkRaw(t, c, "bird-nest", c.credentials(t, "bird-nest"))
	eventually(t, "the bird-nest link", 10*time.Second, bn.LeafConnected)

	t.Run("cloud to edge", func(t *testing.T) {
		got := make(chan string, 16)
		sub, err := bn.Conn.Subscribe("gate.>", func(m *nats.Msg) { got <- m.Subject })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		bn.Conn.Flush()
		// Interest crosses the link asynchronously: publish until the
		// allowed subject arrives; the other venue's must never.
		eventually(t, "bird-nest's own subject at its edge", 10*time.Second, func() bool {
			c.eng.Conn.Publish("gate.ice-cube.ctl.config", []byte("secret"))
			c.eng.Conn.Publish("gate.bird-nest.ctl.ping", []byte("ok"))
			c.eng.Conn.Flush()
			for {
				select {
				case s := <-got:
					if s != "gate.bird-nest.ctl.ping" {
						t.Fatalf("bird-nest's edge received %s", s)
					}
					return true
				case <-time.After(50 * time.Millisecond):
					return false
				}
			}
		})
	})

	t.Run("edge to cloud", func(t *testing.T) {
		got := make(chan string, 16)
		sub, err := c.eng.Conn.Subscribe("gate.*.hb", func(m *nats.Msg) { got <- m.Subject })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		c.eng.Conn.Flush()
		eventually(t, "bird-nest's heartbeat subject in the cloud", 10*time.Second, func() bool {
			bn.Conn.Publish("gate.ice-cube.hb", []byte(`{"venue":"ice-cube"}`))
			bn.Conn.Publish("gate.bird-nest.hb", []byte(`{"venue":"bird-nest"}`))
			bn.Conn.Flush()
			select {
			case s := <-got:
				if s != "gate.bird-nest.hb" {
					t.Fatalf("the cloud received %s from bird-nest's credentials", s)
				}
				return true
			case <-time.After(50 * time.Millisecond):
				return false
			}
		})
	})

	t.Run("cloud streams", func(t *testing.T) {
		// No JetStream API of the cloud answers venue credentials, not
		// even about the venue's own streams: a JetStream answer goes to
		// the reply subject the requester chose, with the cloud's rights.
		// A catch-up request (the positive control) is answered.
		answered := func(subject string) bool {
			inbox := syncReplyPrefix("bird-nest") + nuid.Next()
			sub, err := bn.Conn.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			bn.Conn.Flush()
			if err := bn.Conn.PublishRequest(subject, inbox, []byte(`{"after":0}`)); err != nil {
				t.Fatal(err)
			}
			_, err = sub.NextMsg(time.Second)
			return err == nil
		}
		eventually(t, "an answer to bird-nest's catch-up request", 10*time.Second, func() bool {
			return answered(syncSubject("bird-nest"))
		})
		for _, api := range []string{
			"STREAM.INFO." + ctlStream("bird-nest"),
			"CONSUMER.CREATE." + ctlStream("bird-nest"),
			"CONSUMER.RESET." + ctlStream("bird-nest") + ".edge",
			"STREAM.INFO." + ctlStream("ice-cube"),
			"STREAM.INFO.KV_gate-signing",
			"STREAM.MSG.GET.KV_gate-signing",
			"STREAM.LIST",
			"STREAM.DELETE." + cloudScansStream("bird-nest"),
		} {
			if answered("$JS." + CloudDomain + ".API." + api) {
				t.Errorf("bird-nest's credentials got an answer from %s", api)
			}
		}
		if answered(syncSubject("ice-cube")) {
			t.Error("bird-nest's credentials got an answer to ice-cube's catch-up")
		}
	})
}

func TestLeafRefusesBadCredentials(t *testing.T) {
	c := startCloud(t)
	good := c.credentials(t, "bird-nest")
	for name, cr := range map[string]Credentials{
		"wrong password": {Venue: "bird-nest", Password: good.Password + "x"},
		"unknown venue":  {Venue: "nowhere", Password: good.Password},
		"other venue":    {Venue: "ice-cube", Password: good.Password},
	} {
		t.Run(name, func(t *testing.T) {
			eng := linkRaw(t, c, cr.Venue, cr)
			// The refusal shows as no link while the remote keeps redialing.
			deadline := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(deadline) {
				if eng.LeafConnected() {
					t.Fatal("the cloud accepted the link")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
