// Package engine runs stadion's message backbone: an embedded NATS server
// with JetStream (the default, state under --data), or a connection to an
// external NATS cluster (--nats-url). It hands the rest of stadion one
// connection and one JetStream context, and keeps the embedded server's
// client port closed to anyone without a stadion key.
//
// Capabilities and the exchange import engine; engine imports nothing of
// stadion.
package engine

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure Start.
type Options struct {
	// URL of an external NATS server or cluster; empty runs the embedded one.
	URL string
	// Creds is a NATS credentials file for URL (optional).
	Creds string

	// DataDir holds the embedded engine's JetStream store.
	DataDir string
	// ClientAddr is host:port of the embedded engine's client listener
	// (port 0: any free port; empty: no listener, in-process only).
	ClientAddr string
	// LeafAddr is host:port of the leafnode listener (empty: none).
	LeafAddr string
	// LeafTLS, when set, makes the leafnode listener require TLS.
	LeafTLS *tls.Config
	// MaxMemory and MaxDisk bound JetStream's memory and file storage.
	MaxMemory, MaxDisk int64
	// SyncAlways fsyncs every write before it is acknowledged.
	SyncAlways bool
	Logger     *slog.Logger

	// Name is the embedded server's name (default "stadion"); servers
	// joined by leafnodes need distinct names.
	Name string
	// Domain is the embedded engine's JetStream domain (empty: none). A
	// venue edge runs in its own domain so that its streams stay its own
	// while linked to the cloud; the cloud uses one to reach them.
	Domain string
	// Leaf, when set, makes the embedded engine dial out to a hub's
	// leafnode port: the only connection a venue edge makes.
	Leaf *LeafRemote
	// Cluster, when set, makes the embedded engine a node of a JetStream
	// cluster (cluster.go).
	Cluster *ClusterOptions
	// Replication applies to every stream, KV bucket and object store
	// created through the engine's JetStream context (replicas.go).
	Replication Replication
}

// LeafRemote is an outbound leafnode connection to a hub.
type LeafRemote struct {
	URL      string // nats://host:port of the hub's --leaf listener (tls://: TLS)
	User     string // presented to the hub's leaf authorizer
	Password string
	// TLS configures the TLS client for a tls:// URL (nil: system roots).
	TLS *tls.Config
}

// Engine is a running backbone.
type Engine struct {
	Conn *nats.Conn
	JS   jetstream.JetStream

	srv  *server.Server  // nil when external
	opts *server.Options // the embedded server's options (ports resolved)
	auth *authenticator
	log  *slog.Logger
	load clientLoad

	domain    string
	repl      Replication
	quorum    quorumWatch // clustered embedded engine only (quorum.go)
	clustered bool        // set before Start returns: the quorum watch runs
}

// ErrUnavailable means the engine cannot take requests right now.
var ErrUnavailable = errors.New("engine unavailable")

// Start starts (or connects to) the engine and waits until it is ready.
func Start(ctx context.Context, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e := &Engine{log: o.Logger.With("service", "engine"), repl: o.Replication}
	if o.URL != "" {
		return e, e.connectExternal(o)
	}
	if err := e.startEmbedded(ctx, o); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) connectExternal(o Options) error {
	opts := e.connOptions()
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return fmt.Errorf("engine: connect to %s: %w", o.URL, err)
	}
	return e.attach(nc)
}

func (e *Engine) startEmbedded(ctx context.Context, o Options) error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	e.auth = &authenticator{internal: hex.EncodeToString(secret), log: e.log,
		clients: newClientAccounts()}
	sopts, err := serverOptions(o)
	if err != nil {
		return err
	}
	sopts.CustomClientAuthentication = e.auth
	e.domain = o.Domain
	ns, err := server.NewServer(sopts)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	logs := &slogAdapter{log: e.log}
	ns.SetLoggerV2(logs, false, false, false)
	e.auth.clients.srv = ns
	go ns.Start()
	if !waitReady(ctx, ns) {
		ns.Shutdown()
		return fmt.Errorf("engine: embedded NATS not ready (is %s free?)", o.ClientAddr)
	}
	logs.ready.Store(true)
	e.srv, e.opts = ns, sopts
	e.auth.leafs.mu.Lock()
	e.auth.leafs.srv = ns
	e.auth.leafs.mu.Unlock()
	go e.watchClientLoad()
	// The in-process handshake has no network to wait for, but on a
	// starved machine (a node restarting under load) the server's side
	// can take longer than the client's default 2 s to answer it.
	nc, err := nats.Connect("", append(e.connOptions(), nats.InProcessServer(ns), nats.Token(e.auth.internal), nats.Timeout(15*time.Second))...)
	if err != nil {
		ns.Shutdown()
		return fmt.Errorf("engine: in-process connection: %w", err)
	}
	if err := e.attach(nc); err != nil {
		return err
	}
	if o.Cluster != nil {
		e.clustered = true
		go e.watchQuorum()
	}
	return nil
}

func waitReady(ctx context.Context, ns *server.Server) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if ns.ReadyForConnections(100 * time.Millisecond) {
			return true
		}
	}
	return false
}

func serverOptions(o Options) (*server.Options, error) {
	name := o.Name
	if name == "" {
		name = "stadion"
	}
	sopts := &server.Options{
		ServerName:         name,
		JetStreamDomain:    o.Domain,
		JetStream:          true,
		StoreDir:           filepath.Join(o.DataDir, "jetstream"),
		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxDisk,
		SyncAlways:         o.SyncAlways,
		NoSigs:             true,
		MaxPayload:         8 << 20,
	}
	if o.ClientAddr == "" {
		sopts.DontListen = true
	} else {
		host, port, err := splitAddr(o.ClientAddr, "--nats")
		if err != nil {
			return nil, err
		}
		sopts.Host, sopts.Port = host, port
	}
	if o.LeafAddr != "" {
		host, port, err := splitAddr(o.LeafAddr, "--leaf")
		if err != nil {
			return nil, err
		}
		sopts.LeafNode.Host, sopts.LeafNode.Port = host, port
		// Edges keep dialing the address they were given (a proxy, a
		// load balancer), never one the engine would advertise.
		sopts.LeafNode.NoAdvertise = true
		if o.LeafTLS != nil {
			sopts.LeafNode.TLSConfig, sopts.LeafNode.TLSTimeout = o.LeafTLS, 5
		}
	}
	if err := addLeafRemote(sopts, o.Leaf); err != nil {
		return nil, err
	}
	if err := addCluster(sopts, o.Cluster); err != nil {
		return nil, err
	}
	// Scope the replies of cross-domain JetStream requests to the stream
	// they concern, so leafnode permissions can be per venue.
	sopts.FeatureFlags = map[string]bool{server.FeatureFlagJsAPIReplyFormatV2: true}
	return sopts, nil
}

// splitAddr parses host:port; port 0 becomes -1, which NATS reads as "any
// free port" (its 0 means "the default port").
func splitAddr(addr, flag string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: want host:port (e.g. 127.0.0.1:4222): %w", flag, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s %q: port must be 0-65535", flag, addr)
	}
	if port == 0 {
		port = -1
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

func (e *Engine) connOptions() []nats.Option {
	return []nats.Option{
		nats.Name("stadion"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				e.log.Warn("engine connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { e.log.Info("engine connection restored") }),
	}
}

func (e *Engine) attach(nc *nats.Conn) error {
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(16384),
		jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return fmt.Errorf("engine: jetstream: %w", err)
	}
	e.Conn, e.JS = nc, &replicated{JetStream: js, r: e.repl, why: e.QuorumReason}
	return nil
}

// SetAuthorizer admits outside NATS clients through a. Until it is called,
// only stadion's own connection gets in. No-op for an external engine, whose
// operator manages its users.
func (e *Engine) SetAuthorizer(a Authorizer) {
	if e.auth != nil {
		e.auth.next.Store(&a)
	}
}

// ClientURL is the embedded engine's client URL for outside NATS clients,
// or "" when external or not listening.
func (e *Engine) ClientURL() string {
	if e.srv == nil || e.srv.Addr() == nil {
		return ""
	}
	return "nats://" + e.srv.Addr().String()
}

// LeafURL is the embedded engine's leafnode URL, or "".
func (e *Engine) LeafURL() string {
	if e.srv == nil || e.opts.LeafNode.Port <= 0 {
		return ""
	}
	scheme := "nats-leaf://"
	if e.opts.LeafNode.TLSConfig != nil {
		scheme = "tls://"
	}
	return scheme + net.JoinHostPort(e.opts.LeafNode.Host, strconv.Itoa(e.opts.LeafNode.Port))
}

// Ready reports nil when the engine takes requests: the connection is up
// and JetStream answers. A cluster node is not ready once it has been
// unable to take writes (no quorum, or the cluster's API silent) for
// QuorumGrace, and says why; for less (an election in progress) it is.
func (e *Engine) Ready(ctx context.Context) error {
	if !e.Conn.IsConnected() {
		return fmt.Errorf("%w: not connected", ErrUnavailable)
	}
	if e.clustered {
		_, err := e.quorum.state(time.Now(), QuorumGrace)
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := e.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Stop drains the connection and shuts the embedded server down.
func (e *Engine) Stop(ctx context.Context) error {
	if e.Conn != nil {
		e.Conn.Close()
	}
	if e.srv == nil {
		return nil
	}
	e.srv.Shutdown()
	done := make(chan struct{})
	go func() { e.srv.WaitForShutdown(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine: shutdown: %w", ctx.Err())
	}
}
