package cli

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/gate"
)

// clusterGateConfig is the gate tests' cloud on a three-node R3 cluster.
const clusterGateConfig = `# written by cluster_edge_process_test.go
engine: {replicas: 3}
topics:
  admissions:
    schema: schemas/admissions.json
    key: /ticket_id
    publishers: []
    subscribers: [ticketing]
clients:
  ticketing:
    roles: [ticketing]
gate:
  heartbeat: 250ms
venues:
  bird-nest:
    gates: [north-1, north-2, south-1]
`

// leafOf is node i's leafnode listener (host:port).
func (c *clusterRig) leafOf(i int) string {
	c.t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.data[i], client.EndpointsFile))
	if err != nil {
		c.t.Fatal(err)
	}
	var ep client.Endpoints
	if err := json.Unmarshal(raw, &ep); err != nil {
		c.t.Fatal(err)
	}
	u, err := url.Parse(ep.Leaf)
	if err != nil || u.Host == "" {
		c.t.Fatalf("leaf URL %q: %v", ep.Leaf, err)
	}
	return u.Host
}

// gateCloud is node i as a gate cloud.
func (c *clusterRig) gateCloud(i int) *gateCloud {
	return &gateCloud{proc: c.nodes[i], leaf: c.leafOf(i)}
}

// TestClusterEdgeRelinksExactlyOnce: a venue edge lists the three nodes of
// a clustered cloud. The node its link is on is kill -9ed; the edge
// relinks to another node, and the scans made at the edge before, during
// and after the outage are served by every node, each exactly once (the
// venue view and the admissions topic), also by the victim once restarted.
func TestClusterEdgeRelinksExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster and an edge as real processes")
	}
	dir := t.TempDir()
	c := startClusterRig(t, 3, filepath.Join(dir, "cloud"), clusterGateConfig,
		[]string{"testdata/gate/schemas/admissions.json"}, "--leaf", "127.0.0.1:0")
	leafs := make([]string, 3)
	urls := make([]string, 3)
	for i := range leafs {
		leafs[i] = c.leafOf(i)
		urls[i] = "nats://" + leafs[i]
	}
	cloud := c.gateCloud(0)
	creds := cloud.credsFile(t, "bird-nest", dir)
	tickets := cloud.issue(t, "bird-nest", 150)
	edge := startEdgeProc(t, filepath.Join(dir, "edge"), "bird-nest", strings.Join(urls, ","), creds)
	var last gate.EdgeStatus
	defer func() {
		if t.Failed() {
			t.Logf("last edge status %+v\nedge log:\n%s", last, edge.stderr)
		}
	}()
	waitFor(t, "the edge to link and hold the signing key", func() bool {
		last = edgeStatus(t, edge)
		return last.Link == "up" && last.LinkedTo != "" && len(last.Control.Keys) > 0
	})
	victim := slices.Index(leafs, edgeStatus(t, edge).LinkedTo)
	if victim < 0 {
		t.Fatalf("the edge is linked to %q, none of the nodes %v", edgeStatus(t, edge).LinkedTo, leafs)
	}
	key := deviceKey(t, edge, "north-1-a")
	sc := newScanner(edge, key)
	tl := newTally()
	scanPairs(t, sc, tickets[:50], tl)
	waitFor(t, "the first scans in the cloud", func() bool {
		v := cloud.venue(t, "bird-nest")
		return v.Scans == uint64(tl.total()) && v.Backlog == 0
	})

	t.Logf("killing n%d, the node the edge is linked to", victim+1)
	c.kill9(victim)
	scanPairs(t, sc, tickets[50:100], tl) // during the outage and the relink
	waitFor(t, "the edge to relink to another node", func() bool {
		s := edgeStatus(t, edge)
		return s.Link == "up" && s.LinkedTo != "" && s.LinkedTo != leafs[victim]
	})
	scanPairs(t, sc, tickets[100:], tl)

	check := func(i int) {
		t.Helper()
		node := c.gateCloud(i)
		waitFor(t, "every scan in the venue view of n"+string(rune('1'+i)), func() bool {
			v := node.venue(t, "bird-nest")
			return v.Scans == uint64(tl.total()) && v.Backlog == 0
		})
		v := node.venue(t, "bird-nest")
		if v.Scans != uint64(tl.total()) || v.Admitted != uint64(tl.accepted()) {
			t.Fatalf("n%d venue view %+v, the edge decided %d scans, %d admitted", i+1, v, tl.total(), tl.accepted())
		}
		checkAdmissionsOnce(t, node, tl)
	}
	for i := range c.nodes {
		if i != victim {
			check(i)
		}
	}
	c.start(victim)
	c.waitStreamsReplicated()
	check(victim)
	if s := edgeStatus(t, edge); s.Backlog != 0 {
		t.Fatalf("the edge still has %d scan groups to forward", s.Backlog)
	}
}
