package live

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

var Command = &rig.Command{
	Name:  "live",
	Short: "MQTT fan-out, connect storm, moderation and memory against Mosquitto",
	Long: `Starts each broker under test as its own process on free loopback ports:
stadion ('stadion up' with a bench configuration: every room open,
anonymous reading, no per-user rate, a --banned-word list), Mosquitto 2 (no
persistence, unbounded queues), and the embedded NATS server's own MQTT
(JetStream on, fsync as --nats-sync). A load generator, a separate process
of this binary with a hand-written MQTT 3.1.1 client, runs the same
workloads against each:

  storm       --viewers clients connect and subscribe to live/bench/comments,
              --concurrency handshakes in flight: connects/s, failures.
  idle        those clients stay connected and idle: the broker's RSS
              growth per viewer (KiB), then a PINGREQ checks they all live.
  fan-out     --subscribers QoS 0 subscribers in one room; --publishers
              post --size-byte comments (to live/bench/post on stadion,
              moderated and stamped; to live/bench/comments elsewhere) at
              offered rates rising by 1.5x from --rate until one is not
              sustained, then bisected twice. Sustained: each comment sent
              at most 250ms late, deliveries keep up with rate x subscribers,
              under 0.5% lost, the backlog drained within 1s (details in
              docs/benchmarks.md). Reports deliveries/s and publish-to-receive
              p50/p99 (a send timestamp travels in the text), and p99 at the
              highest ladder rate every broker sustained.
  latency     the fan-out room at a fixed --latency-rate (23 comments/s,
              the issue's live rate): publish-to-receive p50/p99.
  reconnect   --sessions persistent sessions (cleanSession=false) subscribe
              at QoS 1 and disconnect; --owed comments each are posted;
              then all reconnect at once (--concurrency in flight) and
              acknowledge: delivered, lost, duplicated, time to drain.
              It runs after the other workloads and ends its sessions.
  moderation  stadion only: --users viewers post through the full pipeline
              with --banned banned words, one subscriber counting accepted
              comments, rates rising from --mod-rate.

Fan-out and latency run at each --qos: subscribers subscribe at that QoS
and acknowledge as a real client does (PUBACK; PUBREC, then PUBCOMP for
the broker's PUBREL), and posters publish at it (answering PUBREC with
PUBREL).

The load generator's own ceiling is measured first against a trivial
in-process fan-out (sink) that batches its writes. CPU is reported in cores
busy, per process. Targets are printed, never asserted.`,
	Example: `stadion bench live
stadion bench live --brokers stadion,mosquitto --subscribers 2000 --viewers 10000
stadion bench live --brokers mosquitto,nats --workloads storm,idle --json
stadion bench live --brokers stadion,mosquitto --workloads fanout,latency --qos 1,2 --measure 1s
stadion bench live --brokers stadion,mosquitto --workloads reconnect --sessions 10000 --owed 10`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o liveOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the server under test and the load generator (default: this program)")
		fs.StringVar(&o.mosquitto, "mosquitto", "/usr/sbin/mosquitto", "Mosquitto 2 binary")
		brokers := fs.String("brokers", "stadion,mosquitto,nats", "brokers to measure, comma-separated: stadion, mosquitto, nats")
		workloads := fs.String("workloads", "storm,idle,fanout,latency,reconnect,moderation", "workloads, comma-separated: storm, idle, fanout, latency, reconnect, moderation")
		qos := fs.String("qos", "0,1,2", "QoS of the fan-out and latency workloads' subscribers and posters, comma-separated: 0, 1, 2")
		fs.Float64Var(&o.latencyRate, "latency-rate", 23, "offered rate of the latency workload, comments/s")
		fs.IntVar(&o.sessions, "sessions", 10000, "persistent sessions of the reconnect storm")
		fs.IntVar(&o.owed, "owed", 10, "comments each session of the reconnect storm is owed")
		fs.BoolVar(&o.ceiling, "ceiling", true, "measure the load generator against the in-process sink first")
		fs.IntVar(&o.viewers, "viewers", 10000, "clients of the connect storm, kept connected idle")
		fs.IntVar(&o.concurrency, "concurrency", 200, "connect handshakes in flight during the storm")
		fs.IntVar(&o.subscribers, "subscribers", 2000, "subscribers of the fan-out room")
		fs.IntVar(&o.publishers, "publishers", 4, "publishing connections of the fan-out")
		fs.IntVar(&o.size, "size", 200, "comment size in bytes")
		fs.Float64Var(&o.rate, "rate", 10, "first offered fan-out rate, comments/s")
		fs.Float64Var(&o.maxRate, "max-rate", 20000, "highest offered fan-out rate, comments/s")
		fs.IntVar(&o.users, "users", 200, "posting users of the moderation workload")
		fs.IntVar(&o.banned, "banned", 10000, "banned words in stadion's list (at most 16807)")
		fs.Float64Var(&o.modRate, "mod-rate", 500, "first offered moderation rate, comments/s")
		fs.Float64Var(&o.modMax, "mod-max-rate", 100000, "highest offered moderation rate, comments/s")
		fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured start of each offered rate")
		fs.DurationVar(&o.measure, "measure", 2*time.Second, "measured time of each offered rate")
		fs.DurationVar(&o.timeout, "connect-timeout", 10*time.Second, "a storm client not subscribed within this fails")
		fs.StringVar(&o.natsSync, "nats-sync", "always", "JetStream fsync of the NATS broker: always (as stadion's engine) or interval")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench live takes no arguments, got %q", strings.Join(args, " "))
			}
			if err := o.parse(*brokers, *workloads); err != nil {
				return err
			}
			if err := o.parseQoS(*qos); err != nil {
				return err
			}
			return runBenchLive(ctx, env, o)
		}
	},
}

type liveOptions struct {
	bin, mosquitto          string
	brokers, workloads      []string
	ceiling                 bool
	viewers, concurrency    int
	subscribers, publishers int
	size                    int
	rate, maxRate           float64
	users, banned           int
	modRate, modMax         float64
	warmup, measure         time.Duration
	timeout                 time.Duration
	natsSync                string
	json                    bool
	qos                     []int
	latencyRate             float64
	sessions, owed          int
}

func (o *liveOptions) parse(brokers, workloads string) error {
	var err error
	if o.brokers, err = parseList("--brokers", brokers, "stadion", "mosquitto", "nats"); err != nil {
		return err
	}
	if o.workloads, err = parseList("--workloads", workloads, "storm", "idle", "fanout", "latency", "reconnect", "moderation"); err != nil {
		return err
	}
	switch {
	case o.viewers < 1 || o.viewers > 18000:
		return cmdio.UsageErr("--viewers must be 1-18000 (the open-file limit is 20,000 per process)")
	case o.concurrency < 1 || o.concurrency > 4096:
		return cmdio.UsageErr("--concurrency must be 1-4096")
	case o.subscribers < 1 || o.subscribers > 18000, o.publishers < 1 || o.publishers > 1000, o.users < 1 || o.users > 5000:
		return cmdio.UsageErr("--subscribers must be 1-18000, --publishers 1-1000, --users 1-5000")
	case o.size < 40 || o.size > 1000:
		return cmdio.UsageErr("--size must be 40-1000 bytes (stadion's max_length here is 1000 characters)")
	case o.rate <= 0 || o.maxRate < o.rate || o.modRate <= 0 || o.modMax < o.modRate:
		return cmdio.UsageErr("--rate and --mod-rate must be positive and at most --max-rate and --mod-max-rate")
	case o.banned < 0 || o.banned > 16807:
		return cmdio.UsageErr("--banned must be 0-16807")
	case o.warmup < 0 || o.measure < 100*time.Millisecond || o.timeout <= 0:
		return cmdio.UsageErr("--measure must be at least 100ms, --warmup not negative, --connect-timeout positive")
	case o.natsSync != "always" && o.natsSync != "interval":
		return cmdio.UsageErr("--nats-sync must be always or interval")
	case o.latencyRate <= 0:
		return cmdio.UsageErr("--latency-rate must be positive")
	case o.sessions < 1 || o.sessions > 18000 || o.owed < 1 || o.owed > 1000:
		return cmdio.UsageErr("--sessions must be 1-18000 and --owed 1-1000 (a session holds at most 1,000 messages)")
	}
	return nil
}

// parseList splits a comma-separated list of names out of allowed.
func parseList(flagName, s string, allowed ...string) ([]string, error) {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if !slices.Contains(allowed, v) {
			return nil, cmdio.UsageErr("%s: %q is not one of %s", flagName, v, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, cmdio.UsageErr("%s: name at least one of %s", flagName, strings.Join(allowed, ", "))
	}
	return out, nil
}

func (o *liveOptions) does(workload string) bool { return slices.Contains(o.workloads, workload) }

func runBenchLive(ctx context.Context, env cmdio.Env, o liveOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	rig.RaiseFileLimit()
	lc, err := startLiveClient(o.bin)
	if err != nil {
		return err
	}
	defer lc.stop()
	rep := newLiveReport(o)
	names := o.brokers
	if o.ceiling {
		names = append([]string{"sink"}, names...)
	}
	for _, name := range names {
		fmt.Fprintf(env.Stderr, "bench live: %s\n", name)
		rep.Brokers = append(rep.Brokers, benchBroker(ctx, env, o, lc, name))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	rep.finish(o)
	if o.json {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	return rep.print(env.Stdout)
}

func newLiveReport(o liveOptions) *liveReport {
	return &liveReport{
		LoadAvg: [2]float64{loadAvg()},
		Machine: rig.ThisMachine(),
		Settings: liveSetting{
			Server: o.bin, Mosquitto: o.mosquitto, Viewers: o.viewers, Concurrency: o.concurrency,
			Subscribers: o.subscribers, Publishers: o.publishers, Size: o.size, Users: o.users, Banned: o.banned,
			WarmupSec: o.warmup.Seconds(), MeasureSec: o.measure.Seconds(), NATSSync: o.natsSync,
			QoS: o.qos, LatencyRate: o.latencyRate, Sessions: o.sessions, Owed: o.owed,
		},
	}
}
