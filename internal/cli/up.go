package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/server"
)

// defaultDataDir is where a server keeps its state and CLI commands look
// for it.
const defaultDataDir = "./stadion-data"

// The default listen addresses are on loopback: a laptop running
// `stadion up` is not reachable from the network unless the flags say so.
const (
	defaultHTTPAddr     = "127.0.0.1:8080"
	defaultNATSAddr     = "127.0.0.1:4222"
	defaultMQTTAddr     = "127.0.0.1:1883"
	defaultEdgeHTTPAddr = "127.0.0.1:8090"
)

var upCmd = &command{
	name:  "up",
	short: "run stadion: engine, data exchange, live comments, capture and HTTP API",
	long: `Starts an embedded NATS JetStream engine (state under --data) or connects to
an external one (--nats-url), validates the configuration, creates the topics'
streams and serves the HTTP API. The capabilities the configuration uses
start too: sinks, live comments over MQTT (--mqtt, and WebSocket at /mqtt),
frame capture, and the cloud side of venue edges (--leaf). SLOs, alerts and
the miner of the server's own logs always run (stadion slo, alerts,
anomalies; docs/slo.md). With no --config
it runs the bundled Games example (examples/games); stadion init writes it
out to edit. The admin key is written to <data>/admin.key (0600) on first
start. The banner (stdout) comes first: until it is printed, start-up INFO
logs (the engine's included) are DEBUG, shown with --log-level debug. The
operator's console is the page at / on the --http address: open it in a
browser and sign in with a key.

With no listener flags every port is on 127.0.0.1, reachable from this
machine only. To serve other machines, give the interfaces explicitly:
--http :8080 --mqtt :1883 --nats :4222 --leaf :7422 (":PORT" is every
interface). The banner shows the addresses actually bound. One process
serves a data directory: a second one on the same --data refuses to start
and names the first.

A cluster is several stadion up processes, each with its own --data and
ports: --cluster ADDR opens this node's route listener, --routes lists every
node's (nats-route://host:port, this node's own may be listed), --node names
the node (unique, stable across restarts) and --replicas 3 (engine.replicas;
1, 3 or 5: 2 and 4 survive no more node losses than 1 and 3) copies every
stream, KV bucket and object store to that many nodes, scaling existing ones
up. Start-up waits up to --peer-wait for enough nodes and refuses, naming the
nodes it sees, when there are fewer than engine.replicas. Every flag is also
in the file: engine.cluster.{listen,routes,name,secret_file}, engine.node,
engine.replicas, engine.placement_tags, engine.server_tags. Routes beyond
loopback need --cluster-secret-file (the same file on every node).

The first SIGINT/SIGTERM drains in-flight requests (up to --drain); a second
one exits at once.`,
	example: `stadion up
stadion up --config ./stadion.yaml --data /var/lib/stadion --http :8080 --mqtt :1883   # open to the network
stadion up --http 127.0.0.1:0 --nats 127.0.0.1:0 --mqtt 127.0.0.1:0   # any free ports
stadion up --nats-url nats://nats-1:4222,nats://nats-2:4222 --nats-creds stadion.creds
# a three-node cluster on one machine (run each in its own terminal)
R=nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223,nats-route://127.0.0.1:6224
stadion up --data ./n1 --node n1 --replicas 3 --cluster 127.0.0.1:6222 --routes $R --http :8081 --nats :4221 --mqtt :1881
stadion up --data ./n2 --node n2 --replicas 3 --cluster 127.0.0.1:6223 --routes $R --http :8082 --nats :4222 --mqtt :1882
stadion up --data ./n3 --node n3 --replicas 3 --cluster 127.0.0.1:6224 --routes $R --http :8083 --nats :4223 --mqtt :1883`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		o := server.ServerOptions{}
		fs.StringVar(&o.DataDir, "data", defaultDataDir, "state directory (engine store, admin key)")
		fs.StringVar(&o.ConfigPath, "config", "", "configuration file (default: the bundled Games example)")
		fs.StringVar(&o.HTTPAddr, "http", defaultHTTPAddr, "HTTP API listen address (:8080 for every interface)")
		fs.StringVar(&o.NATSAddr, "nats", defaultNATSAddr, "client port of the embedded engine (:4222 for every interface; empty: none)")
		fs.StringVar(&o.LeafAddr, "leaf", "", "leafnode port of the embedded engine, for venue edges (e.g. :7422 for every interface; empty: none)")
		fs.StringVar(&o.LeafCert, "leaf-cert", "", "TLS certificate (PEM) of the leafnode port; with --leaf-key, edges dial tls://")
		fs.StringVar(&o.LeafKey, "leaf-key", "", "TLS private key (PEM) of the leafnode port")
		fs.StringVar(&o.MQTTAddr, "mqtt", defaultMQTTAddr, "MQTT 3.1.1 listen address for live comments (:1883 for every interface; empty: MQTT over WebSocket at /mqtt only)")
		fs.StringVar(&o.NATSURL, "nats-url", "", "use this external NATS cluster instead of the embedded engine")
		fs.StringVar(&o.NATSCreds, "nats-creds", "", "credentials file for --nats-url")
		o.Cluster.Register(fs)
		logFormat := fs.String("log-format", "text", "log format: text or json")
		logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
		drain := fs.Duration("drain", 15*time.Second, "how long the first signal waits for in-flight requests")
		pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback address (e.g. 127.0.0.1:6060); off by default")
		signals := true
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("up takes no arguments, got %q", strings.Join(args, " "))
			}
			log, started, err := server.NewLogger(env.Stderr, *logFormat, *logLevel)
			if err != nil {
				return usageErr("%v", err)
			}
			o.Logger = log
			env.Stdout = server.BannerWriter{Writer: env.Stdout, Started: started}
			if *pprofAddr != "" {
				stop, err := server.ServePprof(*pprofAddr, log)
				if err != nil {
					return usageErr("%v", err)
				}
				defer stop()
			}
			return runUp(ctx, env, o, *drain, signals)
		}
	},
}

func runUp(ctx context.Context, env Env, o server.ServerOptions, drain time.Duration, signals bool) error {
	start := time.Now()
	if signals {
		var stop context.CancelFunc
		ctx, stop = server.SignalContext(ctx, o.Logger)
		defer stop()
	}
	srv, err := server.StartServer(ctx, o)
	if err != nil {
		return err
	}
	printBanner(env.Stdout, o, srv, time.Since(start))
	server.BannerDone(env.Stdout)
	return server.ServeUntilSignal(ctx, o.Logger, srv.Done(), srv.Stop, drain)
}

func printBanner(w io.Writer, o server.ServerOptions, s *server.Server, took time.Duration) {
	cfgName := "bundled Games example (examples/games/stadion.yaml)"
	if o.ConfigPath != "" {
		cfgName = o.ConfigPath
	}
	engineDesc := fmt.Sprintf("embedded, store %s, durability %s", filepath.Join(o.DataDir, "jetstream"), s.Config.Durability)
	natsURL := s.NATSURL
	if o.NATSURL != "" {
		natsURL, engineDesc = o.NATSURL, "external"
	}
	fmt.Fprintf(w, "stadion is up (%s)\n", took.Round(time.Millisecond))
	fmt.Fprintf(w, "  API        %s   (/healthz /readyz /metrics, API under /v1)\n", s.HTTPURL)
	fmt.Fprintf(w, "  console    %s/   (in a browser; sign in with the admin key below)\n", s.HTTPURL)
	fmt.Fprintf(w, "  engine     %s   (%s)\n", orNone(natsURL), engineDesc)
	if s.LeafURL != "" {
		fmt.Fprintf(w, "  leafnodes  %s\n", s.LeafURL)
	}
	if s.Config.Live.Enabled() {
		fmt.Fprintf(w, "  live       mqtt://%s   and   %s/mqtt (MQTT over WebSocket)\n", orNone(s.MQTTAddr), strings.Replace(s.HTTPURL, "http", "ws", 1))
	}
	fmt.Fprintf(w, "  listening  %s\n", server.DescribeListeners(s.Listeners, "--http :8080 and the like open every interface"))
	fmt.Fprintf(w, "  admin key  %s\n", s.AdminKeyPath)
	fmt.Fprintf(w, "  config     %s (%d topics, %d clients)\n", cfgName, len(s.Config.Topics), len(s.Config.Clients))
	data := ""
	if filepath.Clean(o.DataDir) != filepath.Clean(defaultDataDir) {
		data = " --data " + o.DataDir
	}
	fmt.Fprintf(w, "Next: stadion demo feed%s   then   stadion tail results%s --since 1h --follow\n", data, data)
}

func orNone(s string) string {
	if s == "" {
		return "(no client port)"
	}
	return s
}
