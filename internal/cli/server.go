package cli

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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/delivery"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/exchange"
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
}

// service is the lifecycle every capability implements: Start builds its
// streams and workers; Stop releases them within ctx's deadline.
type service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

var (
	_ service = (*exchange.Exchange)(nil)
	_ service = (*delivery.Service)(nil)
)

// capability is a service with HTTP routes of its own, built only when the
// configuration asks for it.
type capability interface {
	service
	Routes(mux *http.ServeMux, auth func(http.Handler) http.Handler)
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
}

// capabilities build the optional services, in start order. Each lives in
// its own file (up_live.go, up_gate.go, up_capture.go) and returns nil when
// the configuration does not use it.
var capabilities = []func(ctx context.Context, env serverEnv) (capability, error){
	newLive, newGate, newCapture,
}

// bodyDeadline is how long a client may take to send a request body. The
// longest legitimate request, a 60 s long-poll pull, reads its small body
// at once and must finish inside it.
const bodyDeadline = 2 * time.Minute

// Endpoints is written to <data>/endpoints.json so that CLI commands and
// benchmarks find a running server.
type Endpoints struct {
	HTTP string `json:"http"`
	NATS string `json:"nats,omitempty"`
	Leaf string `json:"leaf,omitempty"`
	MQTT string `json:"mqtt,omitempty"`
	PID  int    `json:"pid"`
	// Bound are the addresses the listeners bound (host as bound: 0.0.0.0
	// or [::] means every interface), by listener name.
	Bound map[string]string `json:"bound,omitempty"`
}

// EndpointsFile is the name of the endpoints file under the data directory.
const EndpointsFile = "endpoints.json"

// loadConfig reads the file at path, or the bundled example.
func loadConfig(path string) (*config.Config, error) {
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
	cfg, err := loadConfig(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	if err := o.Cluster.apply(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockDataDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("--http %s: %w", o.HTTPAddr, err)
	}
	s := &Server{Config: cfg, log: o.Logger, done: make(chan error, 1), lock: lock}
	if err := s.start(ctx, o, cfg, ln); err != nil {
		ln.Close()
		s.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, o ServerOptions, cfg *config.Config, ln net.Listener) error {
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
	keys, err := api.OpenKeys(ctx, eng.JS, o.Logger)
	if err != nil {
		return err
	}
	if s.AdminKeyPath, err = api.EnsureAdminKey(ctx, keys, o.DataDir, o.Logger); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerClusterMetrics(reg, eng)
	x, err := exchange.New(cfg, eng.Conn, eng.JS, keys, reg, o.Logger)
	if err != nil {
		return err
	}
	x.ServeNATS(eng)
	peers := &presence{js: eng.JS, log: o.Logger}
	x.CountProcesses(peers)
	d, err := delivery.New(cfg, eng.JS, reg, o.Logger, delivery.Options{DataDir: o.DataDir, Peers: peers})
	if err != nil {
		return err
	}
	for _, svc := range []service{peers, x, d} {
		if err := svc.Start(ctx); err != nil {
			return err
		}
		s.svcs = append(s.svcs, svc)
	}
	env := serverEnv{opts: o, cfg: cfg, eng: eng, x: x, keys: keys, reg: reg, log: o.Logger}
	var caps []capability
	for _, build := range capabilities {
		c, err := build(ctx, env)
		if err != nil {
			return err
		}
		if c == nil {
			continue
		}
		if err := c.Start(ctx); err != nil {
			return err
		}
		s.svcs = append(s.svcs, c)
		caps = append(caps, c)
		if m, ok := c.(interface{ MQTTAddr() string }); ok {
			s.MQTTAddr = localHostPort(m.MQTTAddr())
		}
	}
	o2 := newOps(env, s.svcs) // up_ops.go: after the capabilities, the SLO service among them
	if err := o2.Start(ctx); err != nil {
		return err
	}
	s.svcs = append(s.svcs, o2)
	mux := http.NewServeMux()
	auth := func(h http.Handler) http.Handler { return api.Authenticate(keys, h) }
	o2.routes(mux, auth, env)
	s.systemRoutes(mux, reg, metricsAuth(cfg, keys))
	api.KeyRoutes(mux, keys, cfg, auth)
	clusterRoutes(mux, eng, cfg, auth)
	x.Routes(mux, auth)
	d.Routes(mux, auth)
	for _, c := range caps {
		c.Routes(mux, auth)
	}
	s.serve(ln, api.NewHTTPMetrics(reg).Wrap(api.BodyDeadline(bodyDeadline, api.Recover(o.Logger, mux))))
	s.http.RegisterOnShutdown(x.Drain)
	s.HTTPURL = localURL(ln.Addr())
	s.Listeners = s.bound(ln, caps)
	s.ready.Store(true)
	return writeEndpoints(o.DataDir, Endpoints{HTTP: s.HTTPURL, NATS: s.NATSURL, Leaf: s.LeafURL, MQTT: s.MQTTAddr, PID: os.Getpid(), Bound: boundMap(s.Listeners)})
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

func (s *Server) systemRoutes(mux *http.ServeMux, reg *prometheus.Registry, guard func(http.Handler) http.Handler) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if !s.ready.Load() {
			return api.Unavailable("starting or stopping")
		}
		if err := s.eng.Ready(r.Context()); err != nil {
			return api.Unavailable(err.Error())
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	}))
	mux.Handle("GET /metrics", guard(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
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
	s.ready.Store(false)
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http drain: %w", err))
			s.http.Close()
		}
	}
	for i := len(s.svcs) - 1; i >= 0; i-- {
		errs = append(errs, s.svcs[i].Stop(ctx))
	}
	if s.eng != nil {
		errs = append(errs, s.eng.Stop(ctx))
	}
	s.lock.release()
	return errors.Join(errs...)
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

func writeEndpoints(dataDir string, ep Endpoints) error {
	raw, _ := json.MarshalIndent(ep, "", "  ")
	tmp := filepath.Join(dataDir, EndpointsFile+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dataDir, EndpointsFile))
}
