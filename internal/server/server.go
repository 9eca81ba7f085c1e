package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/exchange"
	"github.com/stadion-dev/stadion/internal/limits"
	"github.com/stadion-dev/stadion/internal/ops"
)

// ServerOptions configure a stadion server (what `stadion up` runs).
type ServerOptions struct {
	DataDir    string
	ConfigPath string // empty: the bundled Games example
	HTTPAddr   string
	NATSAddr   string
	LeafAddr   string
	LeafCert   string // TLS certificate and key of the leafnode port (PEM files)
	LeafKey    string
	MQTTAddr   string
	NATSURL    string
	NATSCreds  string
	Cluster    ClusterFlags // up_cluster.go
	Logger     *slog.Logger
}

// Server is a running stadion: engine, services and HTTP API.
type Server struct {
	HTTPURL      string // http://host:port for local clients
	NATSURL      string // the engine's client URL ("" when external)
	LeafURL      string
	MQTTAddr     string // the MQTT listener ("" when live comments are off)
	AdminKeyPath string
	Config       *config.Config
	// Listeners are the addresses bound, as the kernel reports them.
	Listeners []listener

	eng   *engine.Engine
	svcs  []service
	http  *http.Server
	done  chan error
	ready atomic.Bool
	log   *slog.Logger
	lock  *dataLock // held until Stop has stopped the engine
	mux   *api.Mux
}

// Routes lists the pattern of every HTTP route the server registered.
func (s *Server) Routes() []string { return s.mux.Patterns() }

// service is the lifecycle every capability implements: Start builds its
// streams and workers; Stop releases them within ctx's deadline.
type service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

var _ service = (*exchange.Exchange)(nil)

// capability is a service with HTTP routes of its own, built only when the
// configuration asks for it.
type capability interface {
	service
	Routes(mux *api.Mux, auth func(http.Handler) http.Handler)
}

// serverEnv is what capabilities are built from.
type serverEnv struct {
	opts ServerOptions
	cfg  *config.Config
	eng  *engine.Engine
	x    *exchange.Exchange
	keys *api.Keys
	reg  prometheus.Registerer
	log  *slog.Logger
	// peers counts the live stadion processes (limits meant for the
	// whole deployment are divided among them).
	peers *presence
	lim   *limits.Service // runtime limits (limits.go)
}

// capabilities build the services above the exchange, in start order. Each
// lives in its own file (delivery.go, live.go, gate.go, capture.go, and
// up_ops.go for ops' SLOs, alerts and anomalies) and returns nil when the
// configuration does not use it.
var capabilities = []func(ctx context.Context, env serverEnv) (capability, error){
	newDelivery, newLive, newGate, newCapture, newOpsSLO,
	newConsole, // console.go: the page at / and its series
}

// bodyDeadline is how long a client may take to send a request body. The
// longest legitimate request, a 60 s long-poll pull, reads its small body
// at once and must finish inside it.
const bodyDeadline = 2 * time.Minute

// LoadConfig reads the file at path, or the bundled example.
func LoadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Load(games.FS, "stadion.yaml")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return config.Load(os.DirFS(filepath.Dir(abs)), filepath.Base(abs))
}

// StartServer validates the configuration, starts the engine and every
// service, and serves HTTP. It returns once the server is ready.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	cfg, err := LoadConfig(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	if err := o.Cluster.apply(cfg); err != nil {
		return nil, err
	}
	lock, ln, err := claim(o.DataDir, o.HTTPAddr)
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, log: o.Logger, done: make(chan error, 1), lock: lock}
	if err := s.start(ctx, o, cfg, ln); err != nil {
		ln.Close()
		s.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

// claim creates and locks the data directory and binds the HTTP listener:
// the first step of `up` and of `edge`, before anything is started.
func claim(dataDir, httpAddr string) (*dataLock, net.Listener, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		lock.release()
		return nil, nil, fmt.Errorf("--http %s: %w%s", httpAddr, err, listenHint(err, "--http"))
	}
	return lock, ln, nil
}

// listenHint says what to do about a listener that failed: another
// program holds the port, or the address is not HOST:PORT.
func listenHint(err error, flag string) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Sprintf(" (another program, or another stadion, listens there: stop it or pick another address with %s)", flag)
	}
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		return fmt.Sprintf(" (%s wants HOST:PORT, e.g. 127.0.0.1:8080, or :8080 for every interface)", flag)
	}
	return ""
}

// openKeys opens the API keys in eng and makes the admin key on first
// start; it returns the admin key's path.
func openKeys(ctx context.Context, eng *engine.Engine, dataDir string, log *slog.Logger) (*api.Keys, string, error) {
	keys, err := api.OpenKeys(ctx, eng.JS, log)
	if err != nil {
		return nil, "", err
	}
	path, err := api.EnsureAdminKey(ctx, keys, dataDir, log)
	if err != nil {
		return nil, "", err
	}
	return keys, path, nil
}

// newRegistry is a metrics registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// start brings the server up in steps: the engine, the API keys, the
// process count, the runtime limits (limits.go), the core service (the
// exchange), the capabilities (delivery and the optional ones), ops, and
// the HTTP routes behind the limits.
func (s *Server) start(ctx context.Context, o ServerOptions, cfg *config.Config, ln net.Listener) error {
	if err := s.startEngine(ctx, o, cfg); err != nil {
		return err
	}
	keys, adminKey, err := openKeys(ctx, s.eng, o.DataDir, o.Logger)
	if err != nil {
		return err
	}
	s.AdminKeyPath = adminKey
	reg := newRegistry()
	registerClusterMetrics(reg, s.eng)
	peers := &presence{js: s.eng.JS, log: o.Logger}
	if err := peers.Start(ctx); err != nil {
		return err
	}
	s.svcs = append(s.svcs, peers)
	env := serverEnv{opts: o, cfg: cfg, eng: s.eng, keys: keys, reg: reg, log: o.Logger, peers: peers}
	if env.lim, err = s.startLimits(ctx, env); err != nil {
		return err
	}
	x, err := s.startExchange(ctx, o, cfg, keys, reg, peers)
	if err != nil {
		return err
	}
	env.x = x
	caps, err := s.startCapabilities(ctx, env)
	if err != nil {
		return err
	}
	ops, err := s.startOps(ctx, env)
	if err != nil {
		return err
	}
	pol, err := s.newPolicy(ctx, env) // policy.go
	if err != nil {
		return err
	}
	s.serve(ln, s.routes(env, reg, caps, ops, pol))
	s.http.RegisterOnShutdown(x.Drain)
	for _, c := range caps {
		if d, ok := c.(interface{ Drain() }); ok {
			s.http.RegisterOnShutdown(d.Drain)
		}
	}
	s.HTTPURL = localURL(ln.Addr())
	s.Listeners = s.bound(ln, caps)
	s.ready.Store(true)
	return writeEndpoints(o.DataDir, client.Endpoints{HTTP: s.HTTPURL, NATS: s.NATSURL, Leaf: s.LeafURL, MQTT: s.MQTTAddr, PID: os.Getpid(), Bound: boundMap(s.Listeners)})
}

// startEngine starts the embedded engine (or connects to an external one).
func (s *Server) startEngine(ctx context.Context, o ServerOptions, cfg *config.Config) error {
	leafTLS, err := leafTLSConfig(o.LeafCert, o.LeafKey)
	if err != nil {
		return err
	}
	cluster, err := engineCluster(cfg)
	if err != nil {
		return err
	}
	eng, err := engine.Start(ctx, engine.Options{
		LeafTLS: leafTLS,
		URL:     o.NATSURL, Creds: o.NATSCreds, DataDir: o.DataDir,
		ClientAddr: o.NATSAddr, LeafAddr: o.LeafAddr,
		MaxMemory: int64(cfg.Engine.MaxMemory), MaxDisk: int64(cfg.Engine.MaxDisk),
		SyncAlways: cfg.Durability == config.DurabilityAlways, Logger: o.Logger,
		Domain:  engineDomain(len(cfg.Venues)),
		Cluster: cluster, Name: engineNodeName(cfg),
		Replication: engine.Replication{Replicas: cfg.Engine.Replicas, PlacementTags: cfg.Engine.PlacementTags},
	})
	if err != nil {
		return err
	}
	s.eng = eng
	if err := waitForPeers(ctx, eng, cfg, o.Cluster.PeerWait); err != nil {
		return err
	}
	s.eng, s.NATSURL, s.LeafURL = eng, eng.ClientURL(), eng.LeafURL()
	return nil
}

// startExchange starts the core service every capability builds on.
func (s *Server) startExchange(ctx context.Context, o ServerOptions, cfg *config.Config, keys *api.Keys, reg prometheus.Registerer, peers *presence) (*exchange.Exchange, error) {
	x, err := exchange.New(cfg, s.eng.Conn, s.eng.JS, keys, reg, o.Logger)
	if err != nil {
		return nil, err
	}
	x.ServeNATS(s.eng)
	x.CountProcesses(peers)
	if err := x.Start(ctx); err != nil {
		return nil, err
	}
	s.svcs = append(s.svcs, x)
	return x, nil
}

// startCapabilities builds and starts each capability the configuration
// uses, in the order of the capabilities list.
func (s *Server) startCapabilities(ctx context.Context, env serverEnv) ([]capability, error) {
	var caps []capability
	for _, build := range capabilities {
		c, err := build(ctx, env)
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		s.svcs = append(s.svcs, c)
		caps = append(caps, c)
		if m, ok := c.(interface{ MQTTAddr() string }); ok {
			s.MQTTAddr = localHostPort(m.MQTTAddr())
		}
	}
	return caps, nil
}

// startOps starts health scores and the inspection after the
// capabilities, whose checks they read (the SLO service among them).
func (s *Server) startOps(ctx context.Context, env serverEnv) (*opsService, error) {
	o := newOps(env, s.svcs) // up_ops.go
	if err := o.Start(ctx); err != nil {
		return nil, err
	}
	s.svcs = append(s.svcs, o)
	return o, nil
}

// routes is the HTTP API: system routes, keys, the cluster's, the
// exchange's, every capability's and ops', behind metrics, the body
// deadline and panic recovery.
func (s *Server) routes(env serverEnv, reg *prometheus.Registry, caps []capability, o *opsService, pol *ops.Policy) http.Handler {
	cfg, keys, x := env.cfg, env.keys, env.x
	mux := api.NewMux()
	s.mux = mux
	auth := guarded(keys, pol)
	pol.Routes(mux, auth)
	o.routes(mux, auth, env)
	s.systemRoutes(mux, reg, metricsAuth(cfg, keys))
	apiIndexRoutes(mux) // openapi.go
	api.KeyRoutes(mux, keys, cfg, auth)
	clusterRoutes(mux, s.eng, cfg, auth)
	x.Routes(mux, auth)
	env.lim.Routes(mux, auth)
	for _, c := range caps {
		c.Routes(mux, auth)
	}
	pol.SetHandler(api.Recover(s.log, mux))
	return api.NewHTTPMetrics(reg).Wrap(api.BodyDeadline(bodyDeadline, api.Recover(s.log, limitHTTP(env.lim, keys, mux))))
}

// bound lists the server's listeners with the addresses they bound.
func (s *Server) bound(http net.Listener, caps []capability) []listener {
	ls := []listener{{"API", http.Addr().String()}}
	if s.eng.ClientURL() != "" {
		ls = append(ls, listener{"engine", urlHostPort(s.eng.ClientURL())})
	}
	if s.LeafURL != "" {
		ls = append(ls, listener{"leafnodes", urlHostPort(s.LeafURL)})
	}
	for _, c := range caps {
		if m, ok := c.(interface{ MQTTAddr() string }); ok && m.MQTTAddr() != "" {
			ls = append(ls, listener{"MQTT", m.MQTTAddr()})
		}
	}
	return ls
}

func (s *Server) systemRoutes(mux *api.Mux, reg *prometheus.Registry, guard func(http.Handler) http.Handler) {
	probeRoutes(mux, reg, guard, func(w http.ResponseWriter, r *http.Request) error {
		if !s.ready.Load() {
			return api.Unavailable("starting or stopping")
		}
		if err := s.eng.Ready(r.Context()); err != nil {
			return api.Unavailable(err.Error())
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
	mux.Handle("/", api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return api.NotFound(fmt.Sprintf("no route for %s %s; the API is under /v1", r.Method, r.URL.Path))
	}))
}

func (s *Server) serve(ln net.Listener, h http.Handler) {
	s.http = serveHTTP(ln, h, s.log, s.done)
}

// metricsAuth guards /metrics as metrics.auth says: with it on, only the
// admin key or a key of a client with the metrics role may scrape, since
// the labels name subscriptions, sinks and capture jobs.
func metricsAuth(cfg *config.Config, keys *api.Keys) func(http.Handler) http.Handler {
	if !cfg.Metrics.MetricsAuth() {
		return func(h http.Handler) http.Handler { return h }
	}
	return func(h http.Handler) http.Handler {
		return api.Authenticate(keys, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := api.PrincipalFrom(r.Context())
			if !p.Admin() && !cfg.HasRole(p.Client, config.RoleMetrics) {
				api.WriteError(w, r, api.Forbidden(fmt.Sprintf("client %q may not read /metrics: it needs the %q role (metrics.auth is on)", p.Client, config.RoleMetrics)))
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
}

// writeDeadline is how long any response write may wait for its reader
// before the connection is cut. Streams set their own, shorter bound
// (exchange.stream_stall).
const writeDeadline = 30 * time.Second

// serveHTTP serves h on ln with the limits every stadion listener has and
// delivers the server's end to done (nil after Shutdown).
func serveHTTP(ln net.Listener, h http.Handler, log *slog.Logger, done chan<- error) *http.Server {
	srv := &http.Server{
		Handler:           api.WriteDeadline(writeDeadline, h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	return srv
}

// Done delivers the HTTP server's end (nil after Stop).
func (s *Server) Done() <-chan error { return s.done }

// Stop drains in-flight requests until ctx ends, then stops the services
// in reverse order and the engine.
func (s *Server) Stop(ctx context.Context) error {
	return stopAll(ctx, &s.ready, s.http, s.svcs, s.eng, s.lock)
}

// localURL is the URL a client on this machine uses for addr.
func localURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

// localHostPort is the address a client on this machine dials for a
// listener's address (an unspecified host becomes 127.0.0.1).
func localHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func writeEndpoints(dataDir string, ep client.Endpoints) error {
	raw, _ := json.MarshalIndent(ep, "", "  ")
	tmp := filepath.Join(dataDir, client.EndpointsFile+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dataDir, client.EndpointsFile))
}
