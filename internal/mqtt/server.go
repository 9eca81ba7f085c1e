package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Hooks connect the server to the rest of stadion. They are called from
// connection goroutines and must be safe for concurrent use.
type Hooks interface {
	// Authenticate checks a CONNECT and returns the connection's identity,
	// or a CONNACK refusal code (RefusedBadCredentials and the like).
	Authenticate(c *Connect) (Client, byte)
	// Watch is called when the first local subscription to filter
	// appears, Unwatch after the last one went; in between, messages for
	// filter are handed to Server.Deliver (or DeliverQoS).
	Watch(filter string) error
	Unwatch(filter string)
	// Retained returns the retained messages that match filter; each
	// goes out at the lower of its QoS and the subscription's.
	Retained(filter string) []Message
	// LoadSession returns the subscriptions a persistent session of
	// clientID saved, from any process; SaveSession stores them (nil
	// deletes them).
	LoadSession(clientID string) ([]Filter, bool)
	SaveSession(clientID string, filters []Filter)
}

// Claimer is an optional part of Hooks: Claimed is called when a client id
// connects here, so that other processes can close their connection of the
// same id (the MQTT takeover, across processes) with Server.Kick.
type Claimer interface {
	Claimed(clientID string)
}

// Client is the identity of one authenticated connection.
type Client interface {
	// CanSubscribe reports whether the client may subscribe to filter.
	CanSubscribe(filter string) bool
	// Publish takes an inbound message. An error means the client may
	// not publish there: the connection is closed (MQTT 3.1.1 has no
	// negative acknowledgement). done, when not nil (QoS 1 and 2), must
	// be called once, when the message is safely stored (PUBACK or
	// PUBREC waits for it), possibly from another goroutine; done with an
	// error closes the connection. A QoS 2 message is passed once: a
	// client's retransmissions before PUBREL are answered by the server.
	Publish(m Message, done func(error)) error
	// Owner names whom the client speaks for ("" is the anonymous class).
	// Persistent sessions count against their owner's cap, a client id
	// belongs to one owner (another owner's CONNECT with the same id gets
	// a session of its own and takes nothing over), and Server.Revoke
	// closes an owner's connections.
	Owner() string
	// Revoked reports whether the client's credentials were revoked after
	// it authenticated. The server asks once the connection is listed
	// under its owner, so a revocation that races the CONNECT (recorded,
	// then Server.Revoke) is never missed.
	Revoked() bool
	// String names the client in logs (never a secret).
	String() string
}

// Options tune the server; zero values take the defaults.
type Options struct {
	MaxPacket      int           // largest packet a client may send (64 KiB)
	MaxConnections int           // open connections, CONNECT pending or not (100,000); more are closed at once
	ConnectTimeout time.Duration // time to send CONNECT (10 s)
	// PacketTimeout is the time a packet has to arrive whole once its
	// first byte has (10 s), whatever the keep-alive.
	PacketTimeout time.Duration
	// IdleTimeout is the longest a client may stay silent when its
	// keep-alive is 0 or 1.5 times its keep-alive is longer (5 min).
	IdleTimeout time.Duration
	// MaxQueued is the bytes queued to one client before QoS 0 messages
	// are dropped (1 MiB); a client that lets twice that wait (acks and
	// QoS 1 and 2 messages it does not read) is disconnected.
	MaxQueued int
	// MaxInflight bounds, per session, the QoS 1 and 2 messages sent and
	// not yet acknowledged (PUBACK, or PUBREC then PUBCOMP) and those
	// queued offline (1000): more are dropped and counted. It also bounds
	// the inbound QoS 2 messages awaiting PUBREL: a client that sends
	// more is disconnected.
	MaxInflight   int
	SessionExpiry time.Duration // how long an offline persistent session is kept (1 h)
	// MaxOfflineMessages and MaxOfflineBytes bound, for a journaled
	// persistent session (Hooks implement Journal), the messages it
	// missed while offline that it gets when it returns (1,000 and
	// 1 MiB of payload): past either, the oldest are dropped and counted
	// (Stats.OfflineDropped).
	MaxOfflineMessages int
	MaxOfflineBytes    int
	// MaxSubscriptions caps the filters of one connection (100), and
	// MaxSessionSubscriptions those of a persistent session (100): more
	// are refused in the SUBACK (0x80).
	MaxSubscriptions        int
	MaxSessionSubscriptions int
	// MaxOwnerSessions caps the persistent sessions of one owner (16),
	// MaxAnonymousSessions those of all anonymous clients together
	// (1024), in this process: a CONNECT beyond is refused (CONNACK 5).
	MaxOwnerSessions     int
	MaxAnonymousSessions int
	Logger               *slog.Logger
}

func (o *Options) setDefaults() {
	if o.MaxPacket == 0 {
		o.MaxPacket = 64 << 10
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 100_000
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.PacketTimeout == 0 {
		o.PacketTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.MaxQueued == 0 {
		o.MaxQueued = 1 << 20
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = 1000
	}
	if o.SessionExpiry == 0 {
		o.SessionExpiry = time.Hour
	}
	if o.MaxOfflineMessages == 0 {
		o.MaxOfflineMessages = 1000
	}
	if o.MaxOfflineBytes == 0 {
		o.MaxOfflineBytes = 1 << 20
	}
	if o.MaxSubscriptions == 0 {
		o.MaxSubscriptions = 100
	}
	if o.MaxSessionSubscriptions == 0 {
		o.MaxSessionSubscriptions = 100
	}
	if o.MaxOwnerSessions == 0 {
		o.MaxOwnerSessions = 16
	}
	if o.MaxAnonymousSessions == 0 {
		o.MaxAnonymousSessions = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server holds MQTT connections and routes messages to their
// subscriptions.
type Server struct {
	hooks   Hooks
	journal Journal // Hooks, when they keep a journal; else nil
	opts    Options
	log     *slog.Logger

	mu        sync.Mutex
	routes    map[string]*route   // filter → local subscribers
	sessions  map[string]*session // session key (owner and client id) → session (online or kept)
	conns     map[*conn]struct{}  // every open connection
	owners    map[string]*owner   // owner → its connections and persistent sessions
	listeners map[net.Listener]struct{}
	closed    bool
	wg        sync.WaitGroup

	stats Stats
}

// Stats are the server's counters.
type Stats struct {
	Connections atomic.Int64 // open, authenticated connections
	Connects    atomic.Int64 // accepted CONNECTs
	Refused     atomic.Int64 // refused CONNECTs and dropped bad clients
	Delivered   atomic.Int64 // messages written towards subscribers
	Dropped     atomic.Int64 // messages dropped for slow subscribers
	Received    atomic.Int64 // PUBLISH packets from clients

	PacketTimeouts    atomic.Int64 // connections closed with a packet half received
	IdleTimeouts      atomic.Int64 // connections closed for silence
	SlowClosed        atomic.Int64 // connections closed for not reading their queue
	SubscribeRefused  atomic.Int64 // filters refused: the connection's cap
	SessionSubRefused atomic.Int64 // filters refused: the persistent session's cap
	SessionsRefused   atomic.Int64 // CONNECTs refused: the owner's persistent sessions cap
	Revoked           atomic.Int64 // connections closed because their credentials were revoked
	Full              atomic.Int64 // connections closed at once: MaxConnections were open
	InflightFull      atomic.Int64 // connections closed for more than MaxInflight QoS 2 messages awaiting PUBREL
	OfflineDropped    atomic.Int64 // journaled messages a returning session missed past MaxOfflineMessages or MaxOfflineBytes
	OwedGone          atomic.Int64 // in-flight journaled messages the journal no longer held when their session resumed
	SessionsMoved     atomic.Int64 // persistent sessions given up here because another process saved them since
	Feeds             atomic.Int64 // journaled sessions reading the journal now (one feed and one saver goroutine each)
	FeedRetries       atomic.Int64 // journal reads and session saves that failed (the engine slow or away) and were tried again
}

// NewServer returns a server; it serves once given listeners or
// connections.
func NewServer(h Hooks, o Options) *Server {
	o.setDefaults()
	j, _ := h.(Journal)
	return &Server{
		hooks: h, journal: j, opts: o, log: o.Logger,
		routes:    map[string]*route{},
		sessions:  map[string]*session{},
		conns:     map[*conn]struct{}{},
		owners:    map[string]*owner{},
		listeners: map[net.Listener]struct{}{},
	}
}

// Stats returns the live counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Serve accepts connections on ln until it is closed or the server
// closes.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			if s.isClosed() {
				return nil
			}
			return err
		}
		delay = 0
		if !s.track(nil) {
			nc.Close()
			return nil
		}
		go func() {
			if !s.handle(nc, true) {
				s.wg.Done()
			}
		}()
	}
}

// ServeConn serves one connection (a WebSocket's) until it ends.
func (s *Server) ServeConn(nc net.Conn) {
	if !s.track(nil) {
		nc.Close()
		return
	}
	defer s.wg.Done()
	s.handle(nc, false)
}

// track counts a connection goroutine unless the server is closed.
func (s *Server) track(*conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, disconnects every client (their wills are not
// sent: the server, not the client, went away) and waits for their
// goroutines until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
