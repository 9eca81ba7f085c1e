package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/demo"
	"github.com/stadion-dev/stadion/internal/loop"
)

// waitDrained follows GET /v1/sinks until the sinks of the burst's topics
// have written everything, then reports how long that took and their rows.
func (b *burster) waitDrained(ctx context.Context, events []demo.Event, rep *burstReport) error {
	start := time.Now()
	deadline := start.Add(b.o.waitFor)
	for {
		sinks, err := b.burstSinks(ctx)
		if err != nil {
			return err
		}
		if len(sinks) == 0 {
			fmt.Fprintln(b.out, "no sinks drain arrivals or rides on this server; not waiting")
			return nil
		}
		var lag uint64
		for _, s := range sinks {
			lag += s.Lag
		}
		if lag == 0 {
			took := time.Since(start)
			rep.DrainSeconds, rep.Sinks = new(took.Seconds()), sinks
			if !b.o.json {
				b.printDrained(sinks, events, took)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sinks still %d events behind after %s (see 'stadion sinks')", lag, b.o.waitFor)
		}
		if !loop.SleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

func (b *burster) burstSinks(ctx context.Context) ([]client.SinkRow, error) {
	var list struct {
		Sinks []client.SinkRow `json:"sinks"`
	}
	if err := b.r.Do(ctx, "GET", "/v1/sinks", "", nil, nil, &list); err != nil {
		return nil, fmt.Errorf("reading the sinks: %w", err)
	}
	return slices.DeleteFunc(list.Sinks, func(s client.SinkRow) bool { _, ok := burstKey[s.Topic]; return !ok }), nil
}

func (b *burster) printDrained(sinks []client.SinkRow, events []demo.Event, took time.Duration) {
	fmt.Fprintf(b.stdout, "sinks drained %s after the last acceptance\n", took.Round(time.Millisecond))
	keys := distinctKeys(events)
	for _, s := range sinks {
		rows := "? rows (the database did not answer in time)"
		if s.Rows != nil {
			rows = fmt.Sprintf("%d rows", *s.Rows)
			if before, ok := b.rowsBefore[s.Name]; ok {
				rows += fmt.Sprintf(" (%+d)", int64(*s.Rows)-int64(before))
			}
		}
		fmt.Fprintf(b.stdout, "  %-12s %s.%s: %s, %d distinct keys in the burst, %d dead letters\n",
			s.Name, s.Database, s.Table, rows, keys[s.Topic], s.DeadLetters)
	}
	fmt.Fprintln(b.stdout, "try: stadion sinks; sqlite3 <data>/games.db 'SELECT status, count(*) FROM rides GROUP BY status'")
}

// distinctKeys counts the burst's rows per topic as the example's sinks
// key them: a movement per passenger and flight, a row per ride order.
func distinctKeys(events []demo.Event) map[string]int {
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
