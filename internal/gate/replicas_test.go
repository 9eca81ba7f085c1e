package gate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// addReplica runs a second cloud side on c's engine, as a second `stadion
// up` of a cluster does: its own exchange, keys and gate service, sharing
// the engine's streams, buckets and durable consumers. It returns the
// replica's API address.
func addReplica(t *testing.T, c *cloudRig) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(os.DirFS("testdata"), "stadion.yaml")
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t).With("replica", 2)
	keys, err := api.OpenKeys(ctx, c.eng.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	x, err := exchange.New(cfg, c.eng.Conn, c.eng.JS, keys, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "exchange 2", x.Stop)
	cloud, err := NewCloud(cfg, c.eng, x, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, "cloud 2", cloud.Stop)
	mux := api.NewMux()
	auth := func(h http.Handler) http.Handler { return api.Authenticate(keys, h) }
	cloud.Routes(mux, auth)
	x.Routes(mux, auth)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// With two cloud replicas following one venue, both take forwarded
// batches from the shared view consumer; the venue's counts are those of
// one cloud, the same on both, each scan counted once.
func TestVenueViewIsSharedByReplicas(t *testing.T) {
	c := startCloud(t)
	second := addReplica(t, c)
	e := startEdge(t, "bird-nest", tempDir(t, "edge"), c.eng.LeafURL(), c.credentials(t, "bird-nest"))
	eventually(t, "the signing key at the edge", 15*time.Second, func() bool {
		return len(e.edge.ctl.summary().Keys) > 0
	})
	const n = 24
	for i := range n {
		tk := issueOne(t, c, c.admin, session("bird-nest"))
		if r := scan(t, e, e.admin, tk.Code, "north-1", "in"); r.Decision != Accept {
			t.Fatalf("scan %d: %+v", i, r)
		}
		if i%2 == 1 { // a second scan of the same ticket: rejected
			if r := scan(t, e, e.admin, tk.Code, "north-2", "in"); r.Decision != Reject {
				t.Fatalf("rescan %d: %+v", i, r)
			}
		}
	}
	want := VenueStatus{Scans: n + n/2, Admitted: n, Rejected: n / 2}
	for name, url := range map[string]string{"first": c.url, "second": second} {
		var v VenueStatus
		eventually(t, "every scan in the "+name+" replica's view", 30*time.Second, func() bool {
			v = VenueStatus{}
			call(t, "GET", url+"/v1/venues/bird-nest", c.admin, nil, &v)
			return v.Scans >= want.Scans
		})
		if v.Scans != want.Scans || v.Admitted != want.Admitted || v.Rejected != want.Rejected || v.Received != want.Scans {
			t.Errorf("%s replica: scans %d admitted %d rejected %d received %d, want %d %d %d %d",
				name, v.Scans, v.Admitted, v.Rejected, v.Received, want.Scans, want.Admitted, want.Rejected, want.Scans)
		}
	}
}
