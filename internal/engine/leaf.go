package engine

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
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
	urls, secure, err := leafURLs(r)
	if err != nil {
		return err
	}
	// Several URLs are the nodes of a clustered cloud: the engine dials
	// one and, when it is lost, the next, so the link (and the scans'
	// store-and-forward) fails over between nodes.
	remote := &server.RemoteLeafOpts{URLs: urls, DialTimeout: 5 * time.Second}
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

// leafURLs parses r.URL: one URL or several, comma-separated, all nats://
// or all tls://.
func leafURLs(r *LeafRemote) ([]*url.URL, bool, error) {
	var urls []*url.URL
	secure := false
	for i, raw := range strings.Split(r.URL, ",") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, false, fmt.Errorf("--cloud %q: want nats://host:port (the cloud's --leaf port), several comma-separated for a cluster", raw)
		}
		tlsURL := false
		switch u.Scheme {
		case "nats", "nats-leaf":
			u.Scheme = "nats"
		case "tls":
			tlsURL = true
		default:
			return nil, false, fmt.Errorf("--cloud %q: scheme must be nats:// or tls:// (the cloud's --leaf port)", raw)
		}
		if i == 0 {
			secure = tlsURL
		} else if tlsURL != secure {
			return nil, false, fmt.Errorf("--cloud %q: mixes nats:// and tls:// URLs; every cloud node must be reached the same way", r.URL)
		}
		if r.User != "" {
			u.User = url.UserPassword(r.User, r.Password)
		}
		urls = append(urls, u)
	}
	return urls, secure, nil
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

// LeafPeers lists the remote addresses (host:port) of this engine's live
// leafnode connections: for an edge, the cloud node its link is on.
func (e *Engine) LeafPeers() []string {
	if e.srv == nil {
		return nil
	}
	lz, err := e.srv.Leafz(nil)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(lz.Leafs))
	for _, l := range lz.Leafs {
		out = append(out, net.JoinHostPort(l.IP, strconv.Itoa(l.Port)))
	}
	return out
}

// CloseLeafs closes every leafnode connection of this engine that was
// admitted as user (the name LeafAuthorize returned) and reports how many
// it closed. A venue whose credentials are revoked is cut off with it: the
// authorizer already refuses its old secret, so it cannot link again.
func (e *Engine) CloseLeafs(user string) int {
	if e.srv == nil || e.auth == nil {
		return 0
	}
	lz, err := e.srv.Leafz(nil)
	if err != nil {
		return 0
	}
	n := 0
	for _, id := range e.auth.leafs.of(user, liveLeafs(lz)) {
		if e.srv.DisconnectClientByID(id) == nil {
			n++
		}
	}
	return n
}

func liveLeafs(lz *server.Leafz) map[string]uint64 {
	live := make(map[string]uint64, len(lz.Leafs))
	for _, l := range lz.Leafs {
		live[net.JoinHostPort(l.IP, strconv.Itoa(l.Port))] = l.ID
	}
	return live
}

// leafUsers remembers the user each leafnode connection was admitted as,
// by its remote address (the engine's leafnode list does not name users).
// Entries of connections gone for longer than leafForget are dropped
// whenever the list is read, and in the background whenever it grows past
// leafPrune entries, so it holds about the live connections.
type leafUsers struct {
	mu      sync.Mutex
	by      map[string]leafUser
	srv     *server.Server // set once the engine runs
	pruning bool
}

const leafPrune = 256

type leafUser struct {
	name string
	at   time.Time
}

// leafForget covers a connection admitted but not yet listed as a leafnode.
const leafForget = 30 * time.Second

func (l *leafUsers) admitted(addr net.Addr, name string) {
	if addr == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string]leafUser{}
	}
	l.by[addr.String()] = leafUser{name: name, at: time.Now()}
	if len(l.by) > leafPrune && l.srv != nil && !l.pruning {
		l.pruning = true
		go l.prune()
	}
}

// prune forgets the connections that are gone (outside the engine's
// authentication callback, which must not wait on the engine).
func (l *leafUsers) prune() {
	lz, err := l.srv.Leafz(nil)
	if err == nil {
		l.of("", liveLeafs(lz))
	}
	l.mu.Lock()
	l.pruning = false
	l.mu.Unlock()
}

// of returns the ids of the live connections (addr -> id) admitted as
// name, and forgets old entries that are not live.
func (l *leafUsers) of(name string, live map[string]uint64) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []uint64
	for addr, u := range l.by {
		id, ok := live[addr]
		switch {
		case ok && u.name == name:
			ids = append(ids, id)
		case !ok && time.Since(u.at) > leafForget:
			delete(l.by, addr)
		}
	}
	return ids
}
