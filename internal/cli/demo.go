package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/demo"
	"github.com/stadion-dev/stadion/internal/loop"
)

// demoAgent is the User-Agent of the demo's publishers, so a limit (the
// opening-ceremony-storm plan) can stop them.
var demoAgent = "stadion-demo/" + cmdio.Version

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
			f := &feeder{r: r, seed: *seed, out: env.Stderr}
			return f.run(ctx, demo.Day(*seed, day), *duration)
		}
	},
}

// demoPublisher says which client publishes each demo topic.
var demoPublisher = map[string]string{
	"schedule": "odf", "results": "odf", "medals": "odf", "weather": "odf", "personnel": "oms",
}

type feeder struct {
	r    *client.Client
	seed int64
	out  io.Writer
	keys map[string]keyRef // client -> temporary key
}

type keyRef struct{ key, id string }

func (f *feeder) run(ctx context.Context, events []demo.Event, spread time.Duration) error {
	if err := f.createKeys(ctx, "demo feed", "odf", "oms"); err != nil {
		return err
	}
	defer f.revokeKeys()
	var span time.Duration
	if n := len(events); n > 0 {
		span = events[n-1].At
	}
	start := time.Now()
	bar := cmdio.NewProgress(f.out, "demo feed", len(events))
	for i, ev := range events {
		if spread > 0 && span > 0 {
			due := start.Add(time.Duration(float64(ev.At) / float64(span) * float64(spread)))
			if !loop.SleepUntil(ctx, due) {
				return ctx.Err()
			}
		}
		if err := f.publish(ctx, i, ev); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, ev.Topic, err)
		}
		bar.Set(i + 1)
	}
	bar.Done()
	fmt.Fprintf(f.out, "published %d events in %s; try: stadion topics, stadion tail results --since 1h\n",
		len(events), time.Since(start).Round(time.Millisecond))
	return nil
}

func (f *feeder) publish(ctx context.Context, i int, ev demo.Event) error {
	publisher, ok := demoPublisher[ev.Topic]
	if !ok {
		return fmt.Errorf("no publisher for topic %q", ev.Topic)
	}
	body, err := json.Marshal(ev.Data)
	if err != nil {
		return err
	}
	as := &client.Client{Base: f.r.Base, Token: f.keys[publisher].key, HTTP: f.r.HTTP, Agent: demoAgent}
	hdr := http.Header{"Idempotency-Key": {fmt.Sprintf("demo-%d-%d", f.seed, i)}}
	return as.Do(ctx, "POST", "/v1/topics/"+url.PathEscape(ev.Topic)+"/events", "application/json", body, hdr, nil)
}

// createKeys makes a temporary key for each client with the admin key;
// revokeKeys revokes them.
func (f *feeder) createKeys(ctx context.Context, cmd string, clients ...string) error {
	f.keys = map[string]keyRef{}
	for _, client := range clients {
		var out struct{ Key, ID string }
		if err := f.r.Do(ctx, "POST", "/v1/clients/"+client+"/keys", "", nil, nil, &out); err != nil {
			return fmt.Errorf("creating a key for %s (%s needs the admin key and the Games example's clients): %w", client, cmd, err)
		}
		f.keys[client] = keyRef{key: out.Key, id: out.ID}
	}
	return nil
}

func (f *feeder) revokeKeys() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for client, k := range f.keys {
		_ = f.r.Do(ctx, "DELETE", "/v1/clients/"+client+"/keys/"+k.id, "", nil, nil, nil)
	}
}
