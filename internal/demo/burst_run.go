package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/loop"
)

// BurstOptions are the choices of `stadion demo burst`.
type BurstOptions struct {
	Flights, Workers, Batch int
	Seed                    int64
	Date                    time.Time
	WaitFor                 time.Duration // give up waiting for the sinks after this long
}

// BurstReport is what a burst did (what --json prints).
type BurstReport struct {
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
	// Took is how long publishing took, Drained how long the sinks then
	// took to drain.
	Took, Drained time.Duration `json:"-"`
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

// Burster publishes a burst through the API as fast as the server takes
// it, then follows the sinks until they drained it.
type Burster struct {
	Feeder
	Events     []Event // the burst
	o          BurstOptions
	lanes      [][]burstBatch
	accepted   atomic.Int64
	duplicates atomic.Int64 // accepted events the server had already stored
	// RowsBefore are the rows the burst's sinks' tables held before, by sink.
	RowsBefore map[string]uint64
}

// burstBatch is one request: events of one topic and lane.
type burstBatch struct {
	topic, idem string
	body        []byte
	n           int
}

// NewBurster generates the burst, creates the publishers' temporary keys
// with api's (admin) key and reads the sinks' rows; Close revokes the keys.
// Progress goes to out.
func NewBurster(ctx context.Context, api *client.Client, o BurstOptions, out io.Writer) (*Burster, error) {
	b := &Burster{Feeder: Feeder{API: api, Seed: o.Seed, Out: out}, o: o, Events: Burst(o.Seed, o.Date, o.Flights)}
	var err error
	if b.lanes, err = b.cut(); err != nil {
		return nil, err
	}
	if err := b.createKeys(ctx, "demo burst", "ads", "rhp"); err != nil {
		return nil, err
	}
	b.RowsBefore = b.tableRows(ctx)
	return b, nil
}

// Close revokes the temporary keys.
func (b *Burster) Close() { b.revokeKeys() }

// Publish sends the whole burst.
func (b *Burster) Publish(ctx context.Context) (*BurstReport, error) {
	start := time.Now()
	if err := b.publishAll(ctx, len(b.Events)); err != nil {
		return nil, err
	}
	took := time.Since(start)
	dup := b.duplicates.Load()
	return &BurstReport{Events: len(b.Events), Accepted: b.accepted.Load(), Stored: b.accepted.Load() - dup, AlreadyStored: dup,
		Seconds: took.Seconds(), EventsPerSec: float64(b.accepted.Load()) / took.Seconds(), Took: took}, nil
}

// cut spreads the events over burstLanes lanes per topic by key and
// cuts every lane into batches, in event order.
func (b *Burster) cut() ([][]burstBatch, error) {
	pending := map[int][]map[string]any{}
	var order []int
	for _, ev := range b.Events {
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
		for i := 0; i < len(all); i += b.o.Batch {
			chunk := all[i:min(i+b.o.Batch, len(all))]
			body, err := json.Marshal(chunk)
			if err != nil {
				return nil, err
			}
			idem := fmt.Sprintf("burst-%d-%s-%d-%d-%d-%d", b.o.Seed, b.o.Date.Format("20060102"), b.o.Flights, lane, b.o.Batch, i/b.o.Batch)
			batches = append(batches, burstBatch{topic: topic, idem: idem, body: body, n: len(chunk)})
		}
		out = append(out, batches)
	}
	return out, nil
}

// publishAll runs the workers: each takes a lane and sends its batches
// one after the other, so events of one key arrive in order.
func (b *Burster) publishAll(ctx context.Context, total int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan []burstBatch)
	var wg sync.WaitGroup
	for range b.o.Workers {
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
	for _, lane := range b.lanes {
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
func (b *Burster) showProgress(total int) (stop func()) {
	bar := cmdio.NewProgress(b.Out, "demo burst", total)
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
func (b *Burster) send(ctx context.Context, batch burstBatch) error {
	as := b.as(burstPublisher[batch.topic])
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

// Count counts the events of a topic.
func Count(events []Event, topic string) int {
	n := 0
	for _, ev := range events {
		if ev.Topic == topic {
			n++
		}
	}
	return n
}

// tableRows reads the rows the burst's sinks' tables hold, by sink; a
// sink whose database does not answer is left out.
func (b *Burster) tableRows(ctx context.Context) map[string]uint64 {
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

// WaitDrained follows GET /v1/sinks until the sinks of the burst's topics
// have written everything, then fills rep's DrainSeconds, Drained and
// Sinks. When no sink drains the burst's topics, it returns at once and
// leaves rep.Sinks nil.
func (b *Burster) WaitDrained(ctx context.Context, rep *BurstReport) error {
	start := time.Now()
	deadline := start.Add(b.o.WaitFor)
	for {
		sinks, err := b.burstSinks(ctx)
		if err != nil {
			return err
		}
		if len(sinks) == 0 {
			return nil
		}
		var lag uint64
		for _, s := range sinks {
			lag += s.Lag
		}
		if lag == 0 {
			rep.Drained = time.Since(start)
			rep.DrainSeconds, rep.Sinks = new(rep.Drained.Seconds()), sinks
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sinks still %d events behind after %s (see 'stadion sinks')", lag, b.o.WaitFor)
		}
		if !loop.SleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

func (b *Burster) burstSinks(ctx context.Context) ([]client.SinkRow, error) {
	var list struct {
		Sinks []client.SinkRow `json:"sinks"`
	}
	if err := b.API.Do(ctx, "GET", "/v1/sinks", "", nil, nil, &list); err != nil {
		return nil, fmt.Errorf("reading the sinks: %w", err)
	}
	return slices.DeleteFunc(list.Sinks, func(s client.SinkRow) bool { _, ok := burstKey[s.Topic]; return !ok }), nil
}

// DistinctKeys counts the burst's rows per topic as the example's sinks
// key them: a movement per passenger and flight, a row per ride order.
func DistinctKeys(events []Event) map[string]int {
	seen := map[string]map[string]bool{"arrivals": {}, "rides": {}}
	for _, ev := range events {
		key := fmt.Sprint(ev.Data[burstKey[ev.Topic]])
		if f, ok := ev.Data["flight"].(map[string]any); ok {
			key += "/" + fmt.Sprint(f["number"], "/", f["date"])
		}
		seen[ev.Topic][key] = true
	}
	return map[string]int{"arrivals": len(seen["arrivals"]), "rides": len(seen["rides"])}
}
