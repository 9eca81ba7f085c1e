package sink

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/config"
)

var Command = &rig.Command{
	Name:  "sink",
	Short: "drain rate of a database sink against a plain insert loop, and max_rate",
	Long: `Starts 'stadion up' as a separate process with a topic 'arrivals' (JSON
schema) and a sink 'arrivals-db' into SQLite, and again into PostgreSQL
when --postgres or $STADION_TEST_POSTGRES names a server. Per database:

  burst  with the sink paused, --events events (one key each) are offered
         through the HTTP API in batches as fast as it accepts them; then
         the sink resumes and is timed until its lag is 0. The table must
         hold exactly one row per event: capacity rejections, losses and
         wrong rows are counted.
  plain  the same rows, read back from the sink's table, written into a
         fresh table of the same shape by a plain loop in this process: one
         multi-row INSERT per --batch rows and transaction (SQLite) or one
         multi-row INSERT ... ON CONFLICT DO UPDATE per --batch rows
         (PostgreSQL, the idempotent upsert loop). Printed with sink/plain;
         for PostgreSQL also one COPY per --batch rows, with sink/COPY.
  rate   a fresh server whose sink has max_rate --rate-limit drains
         --rate-events events; the table's row count is sampled to compare
         the achieved rate with the configured one.

Targets (sink/plain >= 0.7, rate within 10%) are printed, never asserted.`,
	Example: `stadion bench sink
stadion bench sink --events 50000 --postgres postgres://localhost/stadion
stadion bench sink --json > sink.json`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		var o sinkOptions
		fs.StringVar(&o.bin, "stadion", "", "stadion binary to run as the server under test (default: this program)")
		fs.IntVar(&o.events, "events", 200000, "events in the burst")
		fs.IntVar(&o.batch, "batch", 500, "events per publish request, and rows per sink and plain-loop transaction, 1-1000")
		fs.IntVar(&o.publishers, "publishers", 8, "concurrent publishing clients")
		rate := fs.String("rate-limit", "2000/s", "the sink's max_rate in the rate phase")
		fs.IntVar(&o.rateEvents, "rate-events", 20000, "events drained in the rate phase (0 skips it)")
		fs.StringVar(&o.postgres, "postgres", os.Getenv("STADION_TEST_POSTGRES"), "PostgreSQL URL to measure as well (default $STADION_TEST_POSTGRES)")
		fs.StringVar(&o.profile, "server-profile", "", "write a CPU profile and an execution trace of the server during each drain (first 5 s) to FILE-<database>.pprof and .trace")
		fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench sink takes no arguments, got %q", strings.Join(args, " "))
			}
			if err := o.parse(*rate); err != nil {
				return err
			}
			return runBenchSink(ctx, env, o)
		}
	},
}

type sinkOptions struct {
	bin           string
	events, batch int
	publishers    int
	rate          float64 // events per second
	rateText      string
	rateEvents    int
	postgres      string
	profile       string // --server-profile: file prefix
	json          bool
}

func (o *sinkOptions) parse(rate string) error {
	r, err := config.ParseRate(rate)
	switch {
	case err != nil || r <= 0:
		return cmdio.UsageErr("--rate-limit: want a positive rate such as 2000/s, not %q", rate)
	case o.events < 1 || o.events > 10_000_000:
		return cmdio.UsageErr("--events must be 1-10000000")
	case o.batch < 1 || o.batch > 1000:
		return cmdio.UsageErr("--batch must be 1-1000 (the API's batch limit)")
	case o.publishers < 1 || o.publishers > 1024:
		return cmdio.UsageErr("--publishers must be 1-1024")
	case o.rateEvents < 0 || o.rateEvents > 10_000_000:
		return cmdio.UsageErr("--rate-events must be 0-10000000")
	}
	o.rate, o.rateText = float64(r), rate
	return nil
}

func runBenchSink(ctx context.Context, env cmdio.Env, o sinkOptions) error {
	ctx, stop, err := rig.Prepare(ctx, &o.bin)
	if err != nil {
		return err
	}
	defer stop()
	rep := &sinkReport{
		Machine: rig.ThisMachine(),
		Settings: sinkSetting{Server: o.bin, Events: o.events, Batch: o.batch, Publishers: o.publishers,
			RateLimit: o.rate, RateEvents: o.rateEvents},
	}
	dbs := []sinkDB{{kind: "sqlite"}}
	if o.postgres != "" {
		dbs = append(dbs, sinkDB{kind: "postgres", url: o.postgres})
	} else {
		rep.Skipped = "postgres: skipped, no server given (pass --postgres URL or set $STADION_TEST_POSTGRES)"
	}
	for _, db := range dbs {
		b, err := benchSinkDB(ctx, env, o, db)
		if err != nil {
			return fmt.Errorf("%s: %w", db.kind, err)
		}
		rep.Backends = append(rep.Backends, b)
	}
	if o.json {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	return rep.print(env.Stdout)
}

// benchSinkDB runs the burst, the plain loop and the rate phase against
// one database.
func benchSinkDB(ctx context.Context, env cmdio.Env, o sinkOptions, db sinkDB) (*sinkBackend, error) {
	b := &sinkBackend{Database: db.kind, Reference: db.reference()}
	run, err := startSinkRun(ctx, env, o, db, 0)
	if err != nil {
		return nil, err
	}
	err = run.burst(ctx, env, o, b)
	if err == nil {
		err = run.plain(ctx, env, o, b)
	}
	run.close(env)
	if err != nil {
		return nil, err
	}
	if o.rateEvents > 0 {
		if b.Rate, err = rateRun(ctx, env, o, db); err != nil {
			return nil, fmt.Errorf("rate phase: %w", err)
		}
	}
	b.Checks = sinkChecks(o, b)
	return b, nil
}

func rateRun(ctx context.Context, env cmdio.Env, o sinkOptions, db sinkDB) (*sinkRate, error) {
	run, err := startSinkRun(ctx, env, o, db, o.rate)
	if err != nil {
		return nil, err
	}
	defer run.close(env)
	return run.ratePhase(ctx, env, o)
}

// pollEvery is how often the benchmark reads a sink's status or row count.
const pollEvery = 20 * time.Millisecond
