package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// EngineCluster makes the embedded engine one node of a JetStream cluster:
// several `stadion up` processes, each with its own data directory, linked
// by NATS routes.
type EngineCluster struct {
	// Name is the cluster's name; every node of one cluster uses the same.
	Name string `yaml:"name"`
	// Listen is host:port of this node's route listener (empty: not
	// clustered).
	Listen string `yaml:"listen"`
	// Routes are the other nodes' route listeners, nats-route://host:port.
	// Listing this node's own address too is harmless, so every node may
	// share one list.
	Routes []string `yaml:"routes"`
	// SecretFile holds the secret every node presents on its routes and
	// requires from the others. Required when Listen is not loopback.
	SecretFile string `yaml:"secret_file"`
}

// Clustered reports whether the embedded engine joins a cluster.
func (e Engine) Clustered() bool { return e.Cluster.Listen != "" }

// DefaultClusterName is the cluster name when none is given.
const DefaultClusterName = "stadion"

func (c *Config) setEngineDefaults() {
	if c.Engine.Replicas == 0 {
		c.Engine.Replicas = 1
	}
	if c.Engine.Clustered() && c.Engine.Cluster.Name == "" {
		c.Engine.Cluster.Name = DefaultClusterName
	}
	if c.Engine.Node == "" {
		c.Engine.Node = DefaultNodeName()
	}
}

// DefaultNodeName is the hostname, shaped into a valid server name, or
// "stadion".
func DefaultNodeName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "stadion"
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '*' || r == '>' || r < 0x20 {
			return '-'
		}
		return r
	}, h)
}

// ApplyEngineDefaults fills the engine defaults after flags changed the
// engine section, and validates it again.
func (c *Config) ApplyEngineDefaults() error {
	c.setEngineDefaults()
	if errs := c.validateEngine(); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (c *Config) validateEngine() []error {
	var errs []error
	e := c.Engine
	switch e.Replicas {
	case 1, 3, 5:
	default:
		// An even count tolerates no more failures than the odd count
		// below it (a quorum of 2 needs both of 2; 3 of 4 tolerates one
		// loss, as 2 of 3 does) while costing one more copy.
		errs = append(errs, fieldErr("engine.replicas", "must be 1, 3 or 5, not %d (2 and 4 survive no more node losses than 1 and 3: a quorum of 2 of 2 or 3 of 4 loses no more nodes than 1 of 1 or 2 of 3)", e.Replicas))
	}
	for i, tag := range e.PlacementTags {
		if tag == "" || strings.ContainsAny(tag, " \t\r\n") {
			errs = append(errs, fieldErr(fmt.Sprintf("engine.placement_tags[%d]", i), "must be a non-empty tag without spaces, not %q", tag))
		}
	}
	for i, tag := range e.ServerTags {
		if tag == "" || strings.ContainsAny(tag, " \t\r\n") {
			errs = append(errs, fieldErr(fmt.Sprintf("engine.server_tags[%d]", i), "must be a non-empty tag without spaces, not %q", tag))
		}
	}
	if strings.ContainsAny(e.Node, " \t\r\n.*>") {
		errs = append(errs, fieldErr("engine.node", "must not contain spaces, '.', '*' or '>', got %q", e.Node))
	}
	if e.Cluster.Listen != "" {
		if err := hostPort(e.Cluster.Listen); err != nil {
			errs = append(errs, fieldErr("engine.cluster.listen", "%v", err))
		}
	}
	if strings.ContainsAny(e.Cluster.Name, " \t\r\n.*>") {
		errs = append(errs, fieldErr("engine.cluster.name", "must not contain spaces, '.', '*' or '>', got %q", e.Cluster.Name))
	}
	for i, r := range e.Cluster.Routes {
		if _, err := RouteURL(r); err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("engine.cluster.routes[%d]", i), "%v", err))
		}
	}
	if len(e.Cluster.Routes) > 0 && !e.Clustered() {
		errs = append(errs, fieldErr("engine.cluster.routes", "needs engine.cluster.listen (--cluster): a node that dials routes must listen for them too"))
	}
	return errs
}

// RouteURL parses one route, nats-route://host:port.
func RouteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "nats-route" || u.Host == "" {
		return nil, fmt.Errorf("%q: want nats-route://host:port", s)
	}
	if err := hostPort(u.Host); err != nil {
		return nil, fmt.Errorf("%q: %v", s, err)
	}
	return u, nil
}

func hostPort(addr string) error {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port", addr)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be 0-65535", addr)
	}
	return nil
}
