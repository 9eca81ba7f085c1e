package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/gate"
	"github.com/stadion-dev/stadion/internal/ops"
	"github.com/stadion-dev/stadion/internal/server"
)

var edgeCmd = &command{
	name:  "edge",
	short: "run a venue edge: offline ticket decisions, linked out to the cloud",
	long: `Runs on a venue's own servers. Starts an embedded engine in the venue's own
JetStream domain that only dials out: a leafnode connection to the cloud's
--leaf port, authenticated with the venue's credentials file (from
'stadion venue credentials VENUE' on the cloud). Gate devices call
POST /v1/scan with a key from POST /v1/devices/{device}/keys (use the
edge's own <data>/admin.key, written on first start).

Every decision is made from local state (public keys, configuration and
revocations caught up from the cloud; the admissions in the edge's scan log)
and stored before it is answered. Scans are forwarded to the cloud once
whenever the link is up; a cut of any length, or a restart during it,
does not stop the gates. The credentials reach only the venue's own
subjects; 'stadion venue revoke VENUE' on the cloud closes the link. The
cloud reaches the edge's status and logs over the same outbound link
(stadion venue status|logs).

With no --http the API listens on 127.0.0.1 only; gate devices on the
venue network need --http :8090 (every interface) or the venue LAN's
address. One edge serves a data directory: a second one on the same --data
refuses to start and names the first.`,
	example: `stadion venue credentials bird-nest > bird-nest.creds     # on the cloud
stadion edge --venue bird-nest --cloud nats://cloud.example:7422 \
  --creds bird-nest.creds --data /var/lib/stadion-edge --http :8090
curl -H "Authorization: Bearer $(cat /var/lib/stadion-edge/admin.key)" \
  -X POST localhost:8090/v1/devices/north-1-a/keys`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var o server.EdgeOptions
		fs.StringVar(&o.Venue, "venue", "", "the venue this edge serves (as in the cloud's venues:)")
		fs.StringVar(&o.CloudURL, "cloud", "", "the cloud's leafnode URL, nats://HOST:PORT or tls://HOST:PORT; a clustered cloud's nodes comma-separated, the link fails over between them (default: the one in --creds)")
		fs.StringVar(&o.CredsPath, "creds", "", "the venue's credentials file")
		fs.StringVar(&o.CloudCA, "cloud-ca", "", "CA certificate (PEM) to trust for a tls:// --cloud (default: the system roots)")
		fs.StringVar(&o.DataDir, "data", "", "state directory (default ./stadion-edge-VENUE)")
		fs.StringVar(&o.HTTPAddr, "http", defaultEdgeHTTPAddr, "HTTP listen address for gate devices (:8090 for every interface, as gate devices on the venue network need)")
		logFormat := fs.String("log-format", "text", "log format: text or json")
		logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
		drain := fs.Duration("drain", 10*time.Second, "how long the first signal waits for in-flight scans")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("edge takes no arguments, got %q", strings.Join(args, " "))
			}
			if o.Venue == "" {
				return usageErr("--venue is required")
			}
			if o.DataDir == "" {
				o.DataDir = server.EdgeDataDefault(o.Venue)
			}
			log, started, err := server.NewLogger(env.Stderr, *logFormat, *logLevel)
			if err != nil {
				return usageErr("%v", err)
			}
			env.Stdout = server.BannerWriter{Writer: env.Stdout, Started: started}
			o.Logs = gate.NewLogRing(10000)
			if tee, ok := log.Handler().(*ops.LogTee); ok {
				o.Feed = tee.Feed() // the ring wraps the tee: ops mines the lines through it
			}
			o.Logger = slog.New(o.Logs.Handler(log.Handler()))
			return runEdge(ctx, env, o, *drain)
		}
	},
}

func runEdge(ctx context.Context, env Env, o server.EdgeOptions, drain time.Duration) error {
	ctx, stop := server.SignalContext(ctx, o.Logger)
	defer stop()
	s, err := server.StartEdge(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "stadion edge for venue %s is up\n", o.Venue)
	fmt.Fprintf(env.Stdout, "  API        %s   (POST /v1/scan, POST /v1/devices/{device}/keys)\n", s.HTTPURL)
	fmt.Fprintf(env.Stdout, "  cloud      %s   (outbound leafnode; decisions never wait for it)\n", s.Cloud)
	fmt.Fprintf(env.Stdout, "  domain     %s\n", gate.EdgeDomain(o.Venue))
	fmt.Fprintf(env.Stdout, "  listening  %s\n", server.DescribeListeners(s.Listeners, "--http :8090 opens every interface"))
	fmt.Fprintf(env.Stdout, "  admin key  %s\n", s.AdminKeyPath)
	server.BannerDone(env.Stdout)
	return server.ServeUntilSignal(ctx, o.Logger, s.Done(), s.Stop, drain)
}
