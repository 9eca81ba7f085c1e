package live

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// benchLiveNATSCmd runs the embedded NATS server with JetStream and its
// MQTT listener, as bench live's third broker: the candidate the issue
// asks to measure before building a dedicated front-end.
var NATSCommand = &rig.Command{
	Name:   "live-nats",
	Short:  "NATS server MQTT under test by bench live (started by it)",
	Hidden: true,
	Long: `Runs nats-server (the version embedded in stadion) in this process with
JetStream (required by its MQTT support, which keeps every session in a
stream) and an MQTT listener, until SIGTERM. 'stadion bench live' starts it.`,
	Example: `stadion bench live-nats --mqtt 127.0.0.1:1884 --store /tmp/nats --sync always`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		addr := fs.String("mqtt", "127.0.0.1:1883", "MQTT listen address")
		store := fs.String("store", "", "JetStream directory (required)")
		sync := fs.String("sync", "always", "JetStream fsync: always (as stadion's engine) or interval (nats-server's default, every 2 minutes)")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 || *store == "" || (*sync != "always" && *sync != "interval") {
				return cmdio.UsageErr("bench live-nats needs --store DIR, --sync always|interval and no arguments")
			}
			rig.RaiseFileLimit()
			return runNATSMQTT(ctx, env, *addr, *store, *sync == "always")
		}
	},
}

func runNATSMQTT(ctx context.Context, env cmdio.Env, addr, store string, syncAlways bool) error {
	host, portText, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil {
		return cmdio.UsageErr("--mqtt %q: want host:port", addr)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "bench-live", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: store, SyncAlways: syncAlways,
		MaxConn: 100_000, NoSigs: true,
		MQTT: server.MQTTOpts{Host: host, Port: port},
	})
	if err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(30 * time.Second) {
		return fmt.Errorf("nats-server was not ready within 30s")
	}
	fmt.Fprintf(env.Stderr, "nats-server %s: MQTT on %s\n", server.VERSION, addr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
