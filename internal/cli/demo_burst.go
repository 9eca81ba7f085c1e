package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/demo"
	"github.com/stadion-dev/stadion/internal/loop"
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
		o := burstOptions{}
		fs.IntVar(&o.flights, "flights", 40, "flights in the wave (each 20-80 passengers)")
		fs.IntVar(&o.workers, "workers", 8, "concurrent requests")
		fs.IntVar(&o.batch, "batch", 100, "events per request (1-1000)")
		fs.Int64Var(&o.seed, "seed", 2022, "seed of the generated burst")
		date := fs.String("date", "2022-02-04", "the day the flights land (the opening ceremony was on 2022-02-04)")
		fs.BoolVar(&o.noWait, "no-wait", false, "do not wait for the sinks to drain")
		fs.DurationVar(&o.waitFor, "wait-timeout", 10*time.Minute, "give up waiting for the sinks after this long")
		return func(ctx context.Context, env Env, args []string) error {
			if len(args) > 0 {
				return usageErr("demo burst takes no arguments")
			}
			day, err := time.Parse("2006-01-02", *date)
			if err != nil {
				return usageErr("--date %q: want YYYY-MM-DD", *date)
			}
			o.date = day
			if o.flights < 1 || o.workers < 1 || o.batch < 1 || o.batch > 1000 {
				return usageErr("--flights and --workers must be at least 1, --batch 1-1000")
			}
			r, err := rf.remote(env)
			if err != nil {
				return err
			}
			r.HTTP = &http.Client{Transport: &http.Transport{
				Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: o.workers, IdleConnTimeout: 30 * time.Second,
			}}
			o.json = rf.json
			b := &burster{feeder: feeder{r: r, seed: o.seed, out: env.Stderr}, o: o, stdout: env.Stdout}
			return b.run(ctx)
		}
	},
}

type burstOptions struct {
	flights, workers, batch int
	seed                    int64
	date                    time.Time
	noWait, json            bool
	waitFor                 time.Duration
}

// burstReport is what --json prints.
type burstReport struct {
	Events   int   `json:"events"`
	Accepted int64 `json:"accepted"` // stored + already stored
	// Stored are events stored by this run; AlreadyStored were stored by
	// an earlier run within the dedupe window (same Idempotency-Key) and
	// not stored again.
	Stored        int64            `json:"stored"`
	AlreadyStored int64            `json:"already_stored"`
	Seconds       float64          `json:"seconds"`
	EventsPerSec  float64          `json:"events_per_sec"`
	DrainSeconds  *float64         `json:"drain_seconds,omitempty"`
	Sinks         []client.SinkRow `json:"sinks,omitempty"`
}

// burstPublisher says which client publishes each burst topic, and
// burstKey where each topic's events name their key.
var (
	burstPublisher = map[string]string{"arrivals": "ads", "rides": "rhp"}
	burstKey       = map[string]string{"arrivals": "accreditationId", "rides": "orderId"}
)

// burstLanes is how many lanes each topic's events are spread over: a
// fixed number, so batches (and their idempotency keys) do not depend on
// --workers.
const burstLanes = 32

type burster struct {
	feeder
	o          burstOptions
	stdout     io.Writer
	accepted   atomic.Int64
	duplicates atomic.Int64 // accepted events the server had already stored
	rowsBefore map[string]uint64
}

// burstBatch is one request: events of one topic and lane.
type burstBatch struct {
	topic, idem string
	body        []byte
	n           int
}

func (b *burster) run(ctx context.Context) error {
	events := demo.Burst(b.o.seed, b.o.date, b.o.flights)
	lanes, err := b.lanes(events)
	if err != nil {
		return err
	}
	if err := b.createKeys(ctx, "demo burst", "ads", "rhp"); err != nil {
		return err
	}
	defer b.revokeKeys()
	fmt.Fprintf(b.out, "demo burst: %d flights, %d events (%d arrivals, %d rides), %d workers, batches of %d\n",
		b.o.flights, len(events), count(events, "arrivals"), count(events, "rides"), b.o.workers, b.o.batch)
	b.rowsBefore = b.tableRows(ctx)
	start := time.Now()
	if err := b.publishAll(ctx, lanes, len(events)); err != nil {
		return err
	}
	took := time.Since(start)
	dup := b.duplicates.Load()
	rep := &burstReport{Events: len(events), Accepted: b.accepted.Load(), Stored: b.accepted.Load() - dup, AlreadyStored: dup,
		Seconds: took.Seconds(), EventsPerSec: float64(b.accepted.Load()) / took.Seconds()}
	if !b.o.json {
		b.printStored(rep, took)
	}
	if !b.o.noWait {
		if err := b.waitDrained(ctx, events, rep); err != nil {
			return err
		}
	}
	if b.o.json {
		return cmdio.PrintJSON(b.stdout, rep)
	}
	return nil
}

// lanes spreads the events over burstLanes lanes per topic by key and
// cuts every lane into batches, in event order.
func (b *burster) lanes(events []demo.Event) ([][]burstBatch, error) {
	pending := map[int][]map[string]any{}
	var order []int
	for _, ev := range events {
		key, _ := ev.Data[burstKey[ev.Topic]].(string)
		h := fnv.New32a()
		h.Write([]byte(key))
		lane := int(h.Sum32() % burstLanes)
		if ev.Topic == "rides" {
			lane += burstLanes
		}
		if _, ok := pending[lane]; !ok {
			order = append(order, lane)
		}
		pending[lane] = append(pending[lane], ev.Data)
	}
	out := make([][]burstBatch, 0, len(order))
	for _, lane := range order {
		topic := "arrivals"
		if lane >= burstLanes {
			topic = "rides"
		}
		var batches []burstBatch
		all := pending[lane]
		for i := 0; i < len(all); i += b.o.batch {
			chunk := all[i:min(i+b.o.batch, len(all))]
			body, err := json.Marshal(chunk)
			if err != nil {
				return nil, err
			}
			idem := fmt.Sprintf("burst-%d-%s-%d-%d-%d-%d", b.o.seed, b.o.date.Format("20060102"), b.o.flights, lane, b.o.batch, i/b.o.batch)
			batches = append(batches, burstBatch{topic: topic, idem: idem, body: body, n: len(chunk)})
		}
		out = append(out, batches)
	}
	return out, nil
}

// publishAll runs the workers: each takes a lane and sends its batches
// one after the other, so events of one key arrive in order.
func (b *burster) publishAll(ctx context.Context, lanes [][]burstBatch, total int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan []burstBatch)
	var wg sync.WaitGroup
	for range b.o.workers {
		wg.Go(func() {
			for lane := range work {
				for _, batch := range lane {
					if err := b.send(ctx, batch); err != nil {
						cancel(fmt.Errorf("batch %s (%s): %w", batch.idem, batch.topic, err))
						return
					}
					b.accepted.Add(int64(batch.n))
				}
			}
		})
	}
	stop := b.showProgress(total)
feed:
	for _, lane := range lanes {
		select {
		case work <- lane:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	stop()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// showProgress redraws the progress bar until the returned stop is called.
func (b *burster) showProgress(total int) (stop func()) {
	bar := cmdio.NewProgress(b.out, "demo burst", total)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				bar.Set(int(b.accepted.Load()))
			case <-done:
				bar.Set(int(b.accepted.Load()))
				bar.Done()
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// send posts one batch, retrying what a busy server or network refuses.
func (b *burster) send(ctx context.Context, batch burstBatch) error {
	as := &client.Client{Base: b.r.Base, Token: b.keys[burstPublisher[batch.topic]].key, HTTP: b.r.HTTP, Agent: demoAgent}
	hdr := http.Header{"Idempotency-Key": {batch.idem}}
	path := "/v1/topics/" + url.PathEscape(batch.topic) + "/events"
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var receipts []struct {
			Duplicate bool `json:"duplicate"`
		}
		err := as.Do(ctx, "POST", path, "application/json", batch.body, hdr, &receipts)
		if err == nil {
			for _, r := range receipts {
				if r.Duplicate {
					b.duplicates.Add(1)
				}
			}
		}
		if err == nil || attempt == 10 || !retryable(err) {
			return err
		}
		if !loop.SleepUntil(ctx, time.Now().Add(wait)) {
			return ctx.Err()
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// retryable says whether a publish may be tried again: the batch carries
// an idempotency key, so a retry never stores it twice.
func retryable(err error) bool {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 502 && ae.Status <= 504
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

func count(events []demo.Event, topic string) int {
	n := 0
	for _, ev := range events {
		if ev.Topic == topic {
			n++
		}
	}
	return n
}

// printStored says what the run stored: new events, and those an earlier
// run had already stored (a re-run within the dedupe window stores
// nothing twice).
func (b *burster) printStored(rep *burstReport, took time.Duration) {
	rate := fmt.Sprintf("%s, %.0f events/s", took.Round(time.Millisecond), rep.EventsPerSec)
	switch {
	case rep.AlreadyStored == 0:
		fmt.Fprintf(b.stdout, "stored %d new events in %s\n", rep.Stored, rate)
	case rep.Stored == 0:
		fmt.Fprintf(b.stdout, "stored nothing new: all %d events were already stored by an earlier run with the same --seed, --flights and --batch (%s)\n",
			rep.AlreadyStored, rate)
	default:
		fmt.Fprintf(b.stdout, "stored %d new events; %d were already stored by an earlier run (%s)\n", rep.Stored, rep.AlreadyStored, rate)
	}
}

// tableRows reads the rows the burst's sinks' tables hold, by sink; a
// sink whose database does not answer is left out.
func (b *burster) tableRows(ctx context.Context) map[string]uint64 {
	sinks, err := b.burstSinks(ctx)
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	for _, s := range sinks {
		if s.Rows != nil {
			out[s.Name] = *s.Rows
		}
	}
	return out
}
