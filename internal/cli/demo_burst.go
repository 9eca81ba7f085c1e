package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/demo"
)

var demoBurstCmd = &command{
	name:  "burst",
	short: "publish a wave of flights landing before the opening ceremony (arrivals, rides) as fast as possible",
	long: `Publishes a burst through the API as fast as the server takes it: every
accredited passenger of --flights flights landing before the opening
ceremony moves SCHEDULED -> LANDED -> ARRIVED on the arrivals topic (as
ads), and those who order a ride produce rides events requested ->
assigned -> picked-up -> completed or cancelled (as rhp). Temporary keys
are created with the admin key and revoked at the end.

--workers requests run at once, each a batch of --batch events. Events of
one key (a passenger, a ride order) always travel in one lane, in order,
so the latest event is the latest state. Every batch carries an
Idempotency-Key made from the seed, date, flights and its place, so a
re-run within the dedupe window stores nothing twice; the run says how
many events it stored new and how many were already stored. Busy answers
(429, 503) and dropped connections are retried.

Then, unless --no-wait, it follows GET /v1/sinks until the sinks of the
two topics have no lag, and prints how long they took to drain and the
rows their tables hold (and how many this run added: a replay after the
dedupe window stores the events again, but the sinks' upserts add no row):
the topics absorb the burst, the sinks write it at the pace their max_rate
allows.`,
	example: `stadion demo burst
stadion demo burst --flights 100 --workers 16
stadion demo burst --no-wait --seed 7`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		o := demo.BurstOptions{}
		fs.IntVar(&o.Flights, "flights", 40, "flights in the wave (each 20-80 passengers)")
		fs.IntVar(&o.Workers, "workers", 8, "concurrent requests")
		fs.IntVar(&o.Batch, "batch", 100, "events per request (1-1000)")
		fs.Int64Var(&o.Seed, "seed", 2022, "seed of the generated burst")
		date := fs.String("date", "2022-02-04", "the day the flights land (the opening ceremony was on 2022-02-04)")
		noWait := fs.Bool("no-wait", false, "do not wait for the sinks to drain")
		fs.DurationVar(&o.WaitFor, "wait-timeout", 10*time.Minute, "give up waiting for the sinks after this long")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("demo burst takes no arguments")
			}
			day, err := time.Parse("2006-01-02", *date)
			if err != nil {
				return usageErr("--date %q: want YYYY-MM-DD", *date)
			}
			o.Date = day
			if o.Flights < 1 || o.Workers < 1 || o.Batch < 1 || o.Batch > 1000 {
				return usageErr("--flights and --workers must be at least 1, --batch 1-1000")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			r.HTTP = &http.Client{Transport: &http.Transport{
				Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: o.Workers, IdleConnTimeout: 30 * time.Second,
			}}
			return runBurst(ctx, env, r, o, *noWait, rf.json)
		}
	},
}

func runBurst(ctx context.Context, env Env, r *client.Client, o demo.BurstOptions, noWait, asJSON bool) error {
	b, err := demo.NewBurster(ctx, r, o, env.Stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(env.Stderr, "demo burst: %d flights, %d events (%d arrivals, %d rides), %d workers, batches of %d\n",
		o.Flights, len(b.Events), demo.Count(b.Events, "arrivals"), demo.Count(b.Events, "rides"), o.Workers, o.Batch)
	rep, err := b.Publish(ctx)
	if err != nil {
		return err
	}
	if !asJSON {
		printStored(env.Stdout, rep)
	}
	if !noWait {
		if err := b.WaitDrained(ctx, rep); err != nil {
			return err
		}
		switch {
		case rep.Sinks == nil:
			fmt.Fprintln(env.Stderr, "no sinks drain arrivals or rides on this server; not waiting")
		case !asJSON:
			printDrained(env.Stdout, b, rep)
		}
	}
	if asJSON {
		return cmdio.PrintJSON(env.Stdout, rep)
	}
	return nil
}

// printStored says what the run stored: new events, and those an earlier
// run had already stored (a re-run within the dedupe window stores
// nothing twice).
func printStored(w io.Writer, rep *demo.BurstReport) {
	rate := fmt.Sprintf("%s, %.0f events/s", rep.Took.Round(time.Millisecond), rep.EventsPerSec)
	switch {
	case rep.AlreadyStored == 0:
		fmt.Fprintf(w, "stored %d new events in %s\n", rep.Stored, rate)
	case rep.Stored == 0:
		fmt.Fprintf(w, "stored nothing new: all %d events were already stored by an earlier run with the same --seed, --flights and --batch (%s)\n",
			rep.AlreadyStored, rate)
	default:
		fmt.Fprintf(w, "stored %d new events; %d were already stored by an earlier run (%s)\n", rep.Stored, rep.AlreadyStored, rate)
	}
}

func printDrained(w io.Writer, b *demo.Burster, rep *demo.BurstReport) {
	fmt.Fprintf(w, "sinks drained %s after the last acceptance\n", rep.Drained.Round(time.Millisecond))
	keys := demo.DistinctKeys(b.Events)
	for _, s := range rep.Sinks {
		rows := "? rows (the database did not answer in time)"
		if s.Rows != nil {
			rows = fmt.Sprintf("%d rows", *s.Rows)
			if before, ok := b.RowsBefore[s.Name]; ok {
				rows += fmt.Sprintf(" (%+d)", int64(*s.Rows)-int64(before))
			}
		}
		fmt.Fprintf(w, "  %-12s %s.%s: %s, %d distinct keys in the burst, %d dead letters\n",
			s.Name, s.Database, s.Table, rows, keys[s.Topic], s.DeadLetters)
	}
	fmt.Fprintln(w, "try: stadion sinks; sqlite3 <data>/games.db 'SELECT status, count(*) FROM rides GROUP BY status'")
}
