package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/demo"
)

var demoCmd = &command{
	name:  "demo",
	short: "play demo data through a running server",
	example: `stadion demo feed
stadion demo feed --duration 2m --seed 7
stadion demo burst --flights 60`,
	sub: []*command{demoFeedCmd, demoBurstCmd},
}

var demoFeedCmd = &command{
	name:  "feed",
	short: "publish a plausible competition day (schedule, results, medals, weather, personnel)",
	long: `Publishes one competition day of the bundled Games example through the API,
as the clients that own the data would: the schedule, results and medals as
odf, registrations as oms (temporary keys, created with the admin key and
revoked at the end). The day is spread over --duration so that
'stadion tail ... --follow' shows it arriving. Every event carries an
Idempotency-Key, so re-running with the same --seed within the dedupe
window stores nothing twice.`,
	example: `stadion demo feed
stadion demo feed --duration 0 --date 2022-02-05   # as fast as the server takes it`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		var rf remoteFlags
		rf.register(fs)
		seed := fs.Int64("seed", 2022, "seed of the generated day")
		date := fs.String("date", "2022-02-06", "the competition day (ODF logical date)")
		duration := fs.Duration("duration", 20*time.Second, "spread the day over this long (0: as fast as possible)")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("demo feed takes no arguments")
			}
			day, err := time.Parse("2006-01-02", *date)
			if err != nil {
				return usageErr("--date %q: want YYYY-MM-DD", *date)
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			events := demo.Day(*seed, day)
			f := &demo.Feeder{API: r, Seed: *seed, Out: env.Stderr}
			took, err := f.Feed(ctx, events, *duration)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "published %d events in %s; try: stadion topics, stadion tail results --since 1h\n",
				len(events), took.Round(time.Millisecond))
			return nil
		}
	},
}
