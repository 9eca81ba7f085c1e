package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// ClusterOptions make the embedded engine one node of a JetStream cluster.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every node.
	Name string
	// Listen is host:port of this node's route listener (port 0: any).
	Listen string
	// Routes are the nodes' route listeners (nats-route://host:port); this
	// node's own address may be among them.
	Routes []*url.URL
	// Secret, when set, is required from every node that opens a route to
	// this one and presented to every node this one dials.
	Secret string
	// Tags are this node's server tags, matched by placement tags.
	Tags []string
}

// routeUser is the user name nodes present to each other with Secret.
const routeUser = "stadion-route"

// ErrNoQuorum means the engine's cluster has too few nodes reachable to
// agree on a write.
var ErrNoQuorum = errors.New("no quorum")

func addCluster(sopts *server.Options, c *ClusterOptions) error {
	if c == nil || c.Listen == "" {
		return nil
	}
	host, port, err := splitAddr(c.Listen, "--cluster")
	if err != nil {
		return err
	}
	sopts.Cluster.Name = c.Name
	sopts.Cluster.Host, sopts.Cluster.Port = host, port
	sopts.Cluster.ConnectRetries = -1
	for _, r := range c.Routes {
		u := *r
		if c.Secret != "" {
			u.User = url.UserPassword(routeUser, c.Secret)
		}
		sopts.Routes = append(sopts.Routes, &u)
	}
	if c.Secret != "" {
		sopts.Cluster.Username, sopts.Cluster.Password = routeUser, c.Secret
	}
	sopts.Tags = slices.Clone(c.Tags)
	return nil
}

// Peers describes the engine's cluster as this node sees it.
type Peers struct {
	Clustered bool
	Leader    string   // the meta leader ("" while none is elected)
	Size      int      // the nodes JetStream knows of (this one included)
	Reachable []string // nodes this one is linked to, itself included
}

func (p Peers) String() string {
	if !p.Clustered {
		return "1 node (not clustered)"
	}
	leader := p.Leader
	if leader == "" {
		leader = "none elected"
	}
	return fmt.Sprintf("%d of %d nodes reachable (%s), meta leader %s",
		len(p.Reachable), max(p.Size, len(p.Reachable)), strings.Join(p.Reachable, ", "), leader)
}

// Peers reports the cluster as the embedded engine sees it; an external
// engine reports Clustered false (its operator's tools see more).
func (e *Engine) Peers() Peers {
	if e.srv == nil || !e.srv.JetStreamIsClustered() {
		return Peers{Size: 1}
	}
	p := Peers{Clustered: true, Reachable: []string{e.srv.Name()}}
	if jsz, err := e.srv.Jsz(&server.JSzOptions{}); err == nil && jsz.Meta != nil {
		p.Leader, p.Size = jsz.Meta.Leader, jsz.Meta.Size
	}
	if rz, err := e.srv.Routez(nil); err == nil {
		for _, r := range rz.Routes {
			if r.RemoteName != "" && !slices.Contains(p.Reachable, r.RemoteName) {
				p.Reachable = append(p.Reachable, r.RemoteName)
			}
		}
	}
	sort.Strings(p.Reachable[1:])
	return p
}

// QuorumReason says why a write could not be agreed on, as precisely as the
// engine knows ("no quorum: 1 of 3 nodes reachable"), or "" when the
// cluster looks whole or the engine is not clustered.
func (e *Engine) QuorumReason() string {
	why, _ := e.quorumReasons()
	return why
}

// quorumReasons is QuorumReason and the same without the nodes' names,
// for callers who are not authenticated (/readyz).
func (e *Engine) quorumReasons() (named, counts string) {
	p := e.Peers()
	if !p.Clustered {
		return "", ""
	}
	size := max(p.Size, len(p.Reachable))
	if len(p.Reachable) > size/2 && p.Leader != "" {
		return "", ""
	}
	return fmt.Sprintf("%v: %d of %d nodes reachable (%s); writes need %d",
			ErrNoQuorum, len(p.Reachable), size, strings.Join(p.Reachable, ", "), size/2+1),
		fmt.Sprintf("%v: %d of %d nodes reachable; writes need %d", ErrNoQuorum, len(p.Reachable), size, size/2+1)
}

// WaitPeers waits, up to timeout, until the engine can hold its replica
// count: for the embedded engine, a meta leader and at least that many
// reachable nodes; for any engine, a probe stream with the replica count
// and placement tags is created and deleted. It logs what it waits for
// every few seconds and fails naming the nodes it sees.
func (e *Engine) WaitPeers(ctx context.Context, timeout time.Duration) error {
	need := e.repl.replicas()
	clustered := e.srv != nil && e.srv.JetStreamIsClustered()
	if e.srv != nil && !clustered {
		if need > 1 {
			return fmt.Errorf("engine.replicas %d: the embedded engine is one node, not a cluster; "+
				"run %d or more nodes with --cluster and --routes, or set engine.replicas: 1", need, need)
		}
		return nil
	}
	deadline := time.Now().Add(timeout)
	var lastLog time.Time
	var probeErr error
	for {
		p := e.Peers()
		if !clustered || p.Leader != "" && len(p.Reachable) >= need {
			if probeErr = e.probe(ctx); probeErr == nil {
				e.log.Info("engine ready for its replica count", "replicas", need, "peers", p.String())
				return nil
			}
		}
		if time.Now().After(deadline) {
			return e.peersErr(need, p, timeout, probeErr)
		}
		if time.Since(lastLog) > 3*time.Second {
			e.log.Info("waiting for engine nodes", "replicas", need, "peers", p.String(), "probe", errString(probeErr))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (e *Engine) peersErr(need int, p Peers, timeout time.Duration, probeErr error) error {
	if e.srv == nil {
		return fmt.Errorf("engine.replicas %d: the external engine cannot hold %d copies of a stream after %s (%v); "+
			"it needs at least %d JetStream servers (matching engine.placement_tags, if any), or lower engine.replicas", need, need, timeout, probeErr, need)
	}
	return fmt.Errorf("engine.replicas %d: the engine's cluster has %s after waiting %s (last try: %v); "+
		"start the other nodes (each with --cluster and --routes listing the others) or lower engine.replicas",
		need, p, timeout, errString(probeErr))
}

func errString(err error) string {
	if err == nil {
		return "not tried yet"
	}
	return err.Error()
}

// probe creates and deletes a small memory stream with the engine's
// replica count and placement: proof the engine can hold them.
func (e *Engine) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name := "STADION_PROBE_" + nuid.Next()
	_, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{"stadion.probe." + name}, Storage: jetstream.MemoryStorage,
		MaxMsgs: 1, Description: "stadion start-up check: can the engine hold engine.replicas copies?",
	})
	if err != nil {
		return err
	}
	return e.JS.DeleteStream(ctx, name)
}

// StreamPlacement is where one stream's copies are.
type StreamPlacement struct {
	Leader   string   `json:"leader"`
	Replicas []string `json:"replicas"` // the other copies' nodes
	Current  int      `json:"current"`  // copies caught up, the leader's included
}

// Placement reports the leader and copies of each named stream ("" leader
// while none is elected). Streams the engine cannot describe are left out.
func (e *Engine) Placement(ctx context.Context, streams []string) map[string]StreamPlacement {
	out := map[string]StreamPlacement{}
	for _, name := range streams {
		s, err := e.JS.Stream(ctx, name)
		if err != nil {
			continue
		}
		info := s.CachedInfo()
		sp := StreamPlacement{Replicas: []string{}}
		if c := info.Cluster; c != nil {
			sp.Leader = c.Leader
			if c.Leader != "" {
				sp.Current = 1
			}
			for _, r := range c.Replicas {
				sp.Replicas = append(sp.Replicas, r.Name)
				if r.Current && !r.Offline {
					sp.Current++
				}
			}
		} else {
			sp.Current = 1
		}
		out[name] = sp
	}
	return out
}
