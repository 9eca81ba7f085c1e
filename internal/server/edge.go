package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/gate"
	"github.com/stadion-dev/stadion/internal/ops"
)

// EdgeOptions configure a venue edge (what `stadion edge` runs).
type EdgeOptions struct {
	Venue     string
	CloudURL  string // the cloud's leafnode URL; empty: the one in the credentials
	CredsPath string
	CloudCA   string // PEM file trusted for a tls:// cloud; empty: system roots
	DataDir   string
	HTTPAddr  string
	Logger    *slog.Logger
	Logs      *gate.LogRing
	// Feed carries the edge's log lines to its anomaly miner (nil: the
	// logger's own handler, when it is an ops.LogTee).
	Feed *ops.LogFeed
}

// EdgeServer is a running venue edge.
type EdgeServer struct {
	HTTPURL      string
	AdminKeyPath string
	Cloud        string
	Listeners    []listener // the addresses bound (the edge's engine listens on none)

	eng   *engine.Engine
	edge  *gate.Edge
	ops   *ops.SLOService // anomalies of the edge's own logs
	svcs  []service       // ops and edge, in the order started
	http  *http.Server
	done  chan error
	ready atomic.Bool
	lock  *dataLock // held until Stop has stopped the engine
}

// StartEdge starts the edge's engine (its own JetStream domain, dialing
// the cloud), its keys, the edge service and its HTTP API.
func StartEdge(ctx context.Context, o EdgeOptions) (*EdgeServer, error) {
	creds, err := readCreds(o.CredsPath, o.Logger)
	if err != nil {
		return nil, err
	}
	if o.Venue != creds.Venue {
		return nil, fmt.Errorf("--venue %s but %s holds the credentials of venue %s", o.Venue, o.CredsPath, creds.Venue)
	}
	cloud := o.CloudURL
	if cloud == "" {
		cloud = creds.Cloud
	}
	if cloud == "" {
		return nil, errors.New("no cloud URL: pass --cloud nats://HOST:PORT (the cloud's --leaf port)")
	}
	lock, ln, err := claim(o.DataDir, o.HTTPAddr)
	if err != nil {
		return nil, err
	}
	s := &EdgeServer{Cloud: cloud, done: make(chan error, 1), lock: lock}
	if err := s.start(ctx, o, creds, ln); err != nil {
		ln.Close()
		s.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

func readCreds(path string, log *slog.Logger) (gate.Credentials, error) {
	if path == "" {
		return gate.Credentials{}, errors.New("--creds FILE is required: get it with 'stadion venue credentials VENUE > FILE' on the cloud")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return gate.Credentials{}, fmt.Errorf("--creds: %w", err)
	}
	// Group read is allowed: Kubernetes mounts a Secret 0440 for a
	// non-root pod's group. Anything for others, or group write, is not.
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o027 != 0 {
		log.Warn("credentials file is open to others; chmod 600 it", "path", path, "mode", st.Mode().Perm().String())
	}
	return gate.ParseCredentials(raw)
}

func (s *EdgeServer) start(ctx context.Context, o EdgeOptions, creds gate.Credentials, ln net.Listener) error {
	cloudTLS, err := cloudTLSConfig(o.CloudCA)
	if err != nil {
		return err
	}
	eng, err := engine.Start(ctx, engine.Options{
		DataDir: o.DataDir, SyncAlways: true, Logger: o.Logger,
		MaxMemory: 256 << 20, MaxDisk: 10 << 30,
		Name: "stadion-edge-" + o.Venue, Domain: gate.EdgeDomain(o.Venue),
		Leaf: &engine.LeafRemote{URL: s.Cloud, User: creds.Venue, Password: creds.Password, TLS: cloudTLS},
	})
	if err != nil {
		return err
	}
	s.eng = eng
	keys, adminKey, err := openKeys(ctx, eng, o.DataDir, o.Logger)
	if err != nil {
		return err
	}
	s.AdminKeyPath = adminKey
	reg := newRegistry()
	if s.ops, err = startEdgeOps(ctx, eng, o, reg); err != nil {
		return err
	}
	s.svcs = append(s.svcs, s.ops)
	s.edge = gate.NewEdge(gate.EdgeOptions{Venue: o.Venue, Engine: eng, Keys: keys, Logs: o.Logs, Reg: reg, Log: o.Logger, Anomalies: s.ops.Anomalies})
	if err := s.edge.Start(ctx); err != nil {
		return err
	}
	s.svcs = append(s.svcs, s.edge)
	mux := api.NewMux()
	s.edgeSystemRoutes(mux, reg)
	s.edge.Routes(mux, func(h http.Handler) http.Handler { return api.Authenticate(keys, h) })
	s.ops.Routes(mux, func(h http.Handler) http.Handler { return api.Authenticate(keys, h) })
	s.http = serveHTTP(ln, api.NewHTTPMetrics(reg).Wrap(api.BodyDeadline(time.Minute, api.Recover(o.Logger, mux))), o.Logger, s.done)
	s.HTTPURL = localURL(ln.Addr())
	s.Listeners = []listener{{"API", ln.Addr().String()}}
	s.ready.Store(true)
	return writeEndpoints(o.DataDir, client.Endpoints{HTTP: s.HTTPURL, PID: os.Getpid(), Bound: boundMap(s.Listeners)})
}

func (s *EdgeServer) edgeSystemRoutes(mux *api.Mux, reg *prometheus.Registry) {
	// Ready means scans are decided: the link to the cloud is not needed.
	probeRoutes(mux, reg, func(h http.Handler) http.Handler { return h }, func(w http.ResponseWriter, r *http.Request) error {
		if !s.ready.Load() {
			return api.Unavailable("starting or stopping")
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "cloud_link": s.eng.LeafConnected()})
		return nil
	})
	mux.Handle("/", api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return api.NotFound(fmt.Sprintf("no route for %s %s; the edge serves POST /v1/scan", r.Method, r.URL.Path))
	}))
}

// Done delivers the HTTP server's end.
func (s *EdgeServer) Done() <-chan error { return s.done }

// Stop drains requests, then stops the edge and its engine.
func (s *EdgeServer) Stop(ctx context.Context) error {
	return stopAll(ctx, &s.ready, s.http, s.svcs, s.eng, s.lock)
}

func EdgeDataDefault(venue string) string {
	return filepath.Join(".", "stadion-edge-"+strings.ReplaceAll(venue, "/", "_"))
}
