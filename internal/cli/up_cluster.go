package cli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
)

// ClusterFlags are `stadion up`'s clustering flags; each overrides its
// engine.* field in the configuration file.
type ClusterFlags struct {
	Listen     string // --cluster: engine.cluster.listen
	Routes     string // --routes: engine.cluster.routes, comma-separated
	Name       string // --cluster-name: engine.cluster.name
	Node       string // --node: engine.node
	Replicas   int    // --replicas: engine.replicas (0: from the file)
	SecretFile string // --cluster-secret-file: engine.cluster.secret_file
	// PeerWait bounds how long start-up waits for enough nodes to hold
	// engine.replicas copies.
	PeerWait time.Duration
}

const defaultPeerWait = 30 * time.Second

func (c *ClusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "cluster", "", "route listener of this engine node, host:port (e.g. :6222); makes the embedded engine a cluster member (engine.cluster.listen)")
	fs.StringVar(&c.Routes, "routes", "", "the cluster's route listeners, nats-route://host:port[,...]; this node's own may be listed (engine.cluster.routes)")
	fs.StringVar(&c.Name, "cluster-name", "", "cluster name, the same on every node (engine.cluster.name; default stadion)")
	fs.StringVar(&c.Node, "node", "", "this node's name, unique in the cluster and stable across restarts (engine.node; default the hostname)")
	fs.IntVar(&c.Replicas, "replicas", 0, "copies of every stream, bucket and object store: 1, 3 or 5 (engine.replicas; default 1)")
	fs.StringVar(&c.SecretFile, "cluster-secret-file", "", "file holding the secret every node presents on its routes (engine.cluster.secret_file); required when --cluster listens beyond loopback")
	fs.DurationVar(&c.PeerWait, "peer-wait", defaultPeerWait, "how long start-up waits for enough cluster nodes to hold engine.replicas copies")
}

// apply lays the flags over the file's engine section and validates it.
func (c ClusterFlags) apply(cfg *config.Config) error {
	e := &cfg.Engine
	if c.Listen != "" {
		e.Cluster.Listen = c.Listen
	}
	if c.Routes != "" {
		e.Cluster.Routes = nil
		for _, r := range strings.Split(c.Routes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				e.Cluster.Routes = append(e.Cluster.Routes, r)
			}
		}
	}
	if c.Name != "" {
		e.Cluster.Name = c.Name
	}
	if c.Node != "" {
		e.Node = c.Node
	}
	if c.Replicas != 0 {
		e.Replicas = c.Replicas
	}
	if c.SecretFile != "" {
		e.Cluster.SecretFile = c.SecretFile
	}
	if err := cfg.ApplyEngineDefaults(); err != nil {
		return usageErr("%v (flags --cluster, --routes, --cluster-name, --node, --replicas override these fields)", err)
	}
	return nil
}

// engineCluster builds the engine's cluster options from the engine
// section: nil when the embedded engine runs alone.
func engineCluster(cfg *config.Config) (*engine.ClusterOptions, error) {
	e := cfg.Engine
	if !e.Clustered() {
		return nil, nil
	}
	c := &engine.ClusterOptions{Name: e.Cluster.Name, Listen: e.Cluster.Listen, Tags: e.ServerTags}
	for _, r := range e.Cluster.Routes {
		u, err := url.Parse(r)
		if err != nil {
			return nil, err
		}
		c.Routes = append(c.Routes, u)
	}
	if e.Cluster.SecretFile != "" {
		raw, err := os.ReadFile(e.Cluster.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("engine.cluster.secret_file: %w", err)
		}
		c.Secret = strings.TrimSpace(string(raw))
		if len(c.Secret) < 16 {
			return nil, fmt.Errorf("engine.cluster.secret_file %s: the secret must be at least 16 characters (e.g. openssl rand -hex 32 > %s)", e.Cluster.SecretFile, e.Cluster.SecretFile)
		}
	} else if !loopbackAddr(e.Cluster.Listen) {
		return nil, fmt.Errorf("engine.cluster.listen %s is reachable from the network but engine.cluster.secret_file (--cluster-secret-file) is not set: "+
			"anyone who reaches the route port could join the cluster and read every stream; give every node the same secret file", e.Cluster.Listen)
	}
	return c, nil
}

// loopbackAddr reports whether host:port listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// engineNodeName is the embedded engine's server name: the node name when
// clustered (raft identities derive from it, so it must be stable), else
// the engine's single-node default.
func engineNodeName(cfg *config.Config) string {
	if cfg.Engine.Clustered() {
		return cfg.Engine.Node
	}
	return ""
}

// waitForPeers makes stadion up refuse a replica count its engine cannot
// hold, after giving the other nodes time to start.
func waitForPeers(ctx context.Context, eng *engine.Engine, cfg *config.Config, wait time.Duration) error {
	if wait <= 0 {
		wait = defaultPeerWait
	}
	if cfg.Engine.Replicas <= 1 && !cfg.Engine.Clustered() {
		return nil // one node, one copy: nothing to wait for
	}
	return eng.WaitPeers(ctx, wait)
}

// registerClusterMetrics exports how this node sees the engine's cluster,
// read on scrape: the nodes it reaches, the cluster's size and whether
// writes have a quorum (1) or not (0).
func registerClusterMetrics(reg prometheus.Registerer, eng *engine.Engine) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_engine_nodes_reachable",
			Help: "Engine nodes this node is linked to, itself included (1 when not clustered)."},
			func() float64 { return float64(max(len(eng.Peers().Reachable), 1)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_engine_cluster_size",
			Help: "Engine nodes the cluster's JetStream knows of (1 when not clustered)."},
			func() float64 { return float64(max(eng.Peers().Size, 1)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_engine_quorum",
			Help: "1 when the engine's cluster has a meta leader and a majority of nodes reachable, else 0."},
			func() float64 {
				if eng.QuorumReason() != "" {
					return 0
				}
				return 1
			}),
	)
}
