package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/loop"
)

// burst publishes o.events events with the sink paused, then times the
// sink's drain and checks the table.
func (r *sinkRun) burst(ctx context.Context, env cmdio.Env, o sinkOptions, b *sinkBackend) error {
	bodies, sizes := sinkBatches(o.events, o.batch)
	stop := cmdio.ShowProgress(env.Stderr, fmt.Sprintf("%s: publishing %d events", b.Database, o.events), time.Duration(o.events/50)*time.Millisecond)
	b.Publish = r.publish(ctx, o, bodies, sizes)
	stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Publish.Accepted == 0 {
		return fmt.Errorf("no event was accepted: %s", b.Publish.FirstError)
	}
	b.PublishPerSec = float64(b.Publish.Accepted) / b.Publish.Seconds
	fmt.Fprintf(env.Stderr, "  %s events/s accepted; draining\n", cmdio.Thousands(b.PublishPerSec))
	took, st, err := r.waitDrained(ctx, b.Publish.Accepted, drainLimit(o.events))
	if err != nil {
		return err
	}
	b.DrainSeconds = took.Seconds()
	b.DrainPerSec = float64(st.RowsWritten) / b.DrainSeconds
	b.DeadLetters = int64(st.DeadLetters)
	fmt.Fprintf(env.Stderr, "  drained %d rows in %.2fs: %s rows/s\n", st.RowsWritten, b.DrainSeconds, cmdio.Thousands(b.DrainPerSec))
	return r.checkRows(ctx, o, b)
}

// checkRows reads the table back: one row per event, each the event's.
func (r *sinkRun) checkRows(ctx context.Context, o sinkOptions, b *sinkBackend) error {
	rows, err := r.db.rows(ctx)
	if err != nil {
		return fmt.Errorf("reading the sink's table: %w", err)
	}
	b.Rows = int64(len(rows))
	seen := make(map[string]bool, len(rows))
	want := make(map[string]string, o.events)
	for i := range o.events {
		want[sinkPerson(i)] = sinkStatus(i)
	}
	for _, row := range rows {
		person := fmt.Sprint(row[0])
		if seen[person] || want[person] != fmt.Sprint(row[4]) {
			b.WrongRows++
		}
		seen[person] = true
	}
	b.Lost = b.Publish.Accepted - int64(len(seen))
	r.rowsRead = rows
	return nil
}

// plain writes the rows the sink wrote with the plain loop.
func (r *sinkRun) plain(ctx context.Context, env cmdio.Env, o sinkOptions, b *sinkBackend) error {
	if len(r.rowsRead) == 0 {
		return nil
	}
	fmt.Fprintf(env.Stderr, "  plain %s of the same %d rows\n", b.Reference, len(r.rowsRead))
	took, err := r.db.plain(ctx, r.rowsRead, o.batch)
	if err != nil {
		return fmt.Errorf("plain %s: %w", b.Reference, err)
	}
	b.PlainPerSec = float64(len(r.rowsRead)) / took.Seconds()
	b.Ratio = b.DrainPerSec / b.PlainPerSec
	fmt.Fprintf(env.Stderr, "  %s rows/s, sink/plain %.2f\n", cmdio.Thousands(b.PlainPerSec), b.Ratio)
	if pg, ok := r.db.(*pgConn); ok {
		took, err := pg.copyPlain(ctx, r.rowsRead, o.batch)
		if err != nil {
			return fmt.Errorf("plain COPY: %w", err)
		}
		b.CopyPerSec = float64(len(r.rowsRead)) / took.Seconds()
		b.RatioCopy = b.DrainPerSec / b.CopyPerSec
		fmt.Fprintf(env.Stderr, "  COPY: %s rows/s, sink/COPY %.2f\n", cmdio.Thousands(b.CopyPerSec), b.RatioCopy)
	}
	return nil
}

// ratePhase publishes o.rateEvents with the sink paused, resumes it and
// samples the table's row count until it holds them all.
func (r *sinkRun) ratePhase(ctx context.Context, env cmdio.Env, o sinkOptions) (*sinkRate, error) {
	bodies, sizes := sinkBatches(o.rateEvents, o.batch)
	pub := r.publish(ctx, o, bodies, sizes)
	if pub.Accepted == 0 {
		return nil, fmt.Errorf("no event was accepted: %s", pub.FirstError)
	}
	rt := &sinkRate{Configured: o.rate, Events: pub.Accepted}
	want := time.Duration(float64(pub.Accepted) / o.rate * float64(time.Second))
	stop := cmdio.ShowProgress(env.Stderr, fmt.Sprintf("rate: %d events at max_rate %s", pub.Accepted, o.rateText), want)
	defer stop()
	if err := r.setPaused(ctx, false); err != nil {
		return nil, err
	}
	start := time.Now()
	for deadline := start.Add(2*want + time.Minute); ; {
		n, err := r.db.count(ctx)
		if err != nil {
			return nil, err
		}
		rt.Samples = append(rt.Samples, rateSample{Sec: time.Since(start).Seconds(), Rows: n})
		if n >= pub.Accepted {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d rows after %v", n, pub.Accepted, time.Since(start).Round(time.Second))
		}
		if !loop.SleepUntil(ctx, time.Now().Add(rateSampleEvery)) {
			return nil, ctx.Err()
		}
	}
	rt.summarize()
	return rt, nil
}

// rateSampleEvery is how often the rate phase counts rows.
const rateSampleEvery = 100 * time.Millisecond

// rateSample is the table's row count at a time since the resume.
type rateSample struct {
	Sec  float64 `json:"s"`
	Rows int64   `json:"rows"`
}

// summarize computes the achieved rate between the samples at 25% and
// 95% of the rows, leaving out the token bucket's initial burst (one
// second's worth) and the tail, and the fastest second within them.
func (rt *sinkRate) summarize() {
	s := rt.Samples
	at := func(frac float64) int {
		for i, x := range s {
			if float64(x.Rows) >= frac*float64(rt.Events) {
				return i
			}
		}
		return len(s) - 1
	}
	lo, hi := at(0.25), at(0.95)
	if hi <= lo || s[hi].Sec <= s[lo].Sec {
		return // too few samples: not measured
	}
	rt.Achieved = float64(s[hi].Rows-s[lo].Rows) / (s[hi].Sec - s[lo].Sec)
	for i := lo; i <= hi; i++ {
		for j := i + 1; j <= hi; j++ {
			if d := s[j].Sec - s[i].Sec; d >= 1 {
				rt.PeakSecond = max(rt.PeakSecond, float64(s[j].Rows-s[i].Rows)/d)
				break
			}
		}
	}
	rt.Deviation = rt.Achieved/rt.Configured - 1
}
