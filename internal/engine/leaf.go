package engine

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// leafReconnect is how often an edge redials a lost hub. The NATS default
// (1 s) is kept short enough that a healed link is used at once.
const leafReconnect = 500 * time.Millisecond

func addLeafRemote(sopts *server.Options, r *LeafRemote) error {
	if r == nil {
		return nil
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--cloud %q: want nats://host:port (the cloud's --leaf port)", r.URL)
	}
	secure := false
	switch u.Scheme {
	case "nats", "nats-leaf":
		u.Scheme = "nats"
	case "tls":
		secure = true
	default:
		return fmt.Errorf("--cloud %q: scheme must be nats:// or tls:// (the cloud's --leaf port)", r.URL)
	}
	if r.User != "" {
		u.User = url.UserPassword(r.User, r.Password)
	}
	remote := &server.RemoteLeafOpts{URLs: []*url.URL{u}, DialTimeout: 5 * time.Second}
	if secure {
		remote.TLS, remote.TLSTimeout = true, 5
		remote.TLSConfig = r.TLS
		if remote.TLSConfig == nil {
			remote.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	sopts.LeafNode.Remotes = append(sopts.LeafNode.Remotes, remote)
	sopts.LeafNode.ReconnectInterval = leafReconnect
	return nil
}

// LeafAuthorizer admits leafnode connections (venue edges) by the user and
// password they present, with permissions seen from the edge: Publish is
// what the edge may send into this engine, Subscribe what it may receive.
// Called concurrently from the engine's connection handling; must not block
// on the engine.
type LeafAuthorizer interface {
	LeafAuthorize(user, password string) (name string, perms *Permissions, ok bool)
}

// SetLeafAuthorizer admits venue edges on the leafnode port through a.
// Until it is called, the leafnode port admits nobody.
func (e *Engine) SetLeafAuthorizer(a LeafAuthorizer) {
	if e.auth != nil {
		e.auth.leaf.Store(&a)
	}
}

// Domain is the embedded engine's JetStream domain ("" for none).
func (e *Engine) Domain() string { return e.domain }

// LeafConnected reports whether the embedded engine has at least one live
// leafnode connection (for an edge: whether its cloud link is up).
func (e *Engine) LeafConnected() bool {
	return e.srv != nil && e.srv.NumLeafNodes() > 0
}
