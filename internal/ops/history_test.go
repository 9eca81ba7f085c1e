package ops

import (
	"context"
	"testing"
	"time"
)

// TestHistoryIsSharedAndOncePerMinute runs two replicas' histories on one
// engine: both record the same minutes, the engine keeps one sample a
// minute, and each sees the other's samples; the trend and the day's high
// water level come from them, and the hour's aggregate is written once.
func TestHistoryIsSharedAndOncePerMinute(t *testing.T) {
	eng := startEngine(t)
	ctx := context.Background()
	a, err := OpenHistory(ctx, eng.JS, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	b, err := OpenHistory(ctx, eng.JS, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	hour := time.Unix(1_800_000_000-1_800_000_000%3600, 0)
	c := Check{Component: "engine", Name: "disk_used", Warn: 0.7, Crit: 0.9}
	for m := range 60 {
		c.Value = 0.01 * float64(m) // rising one point a minute
		at := hour.Add(time.Duration(m) * time.Minute)
		if err := a.Record(ctx, at, []Check{c}); err != nil {
			t.Fatal(err)
		}
		if m%2 == 0 { // the second replica records every other minute too
			if err := b.Record(ctx, at.Add(time.Second), []Check{c}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := streamMsgs(t, eng.JS, MinuteStream); n != 60 {
		t.Fatalf("%d minute samples for 60 minutes recorded by two replicas", n)
	}
	next := hour.Add(time.Hour)
	eventually(t, "replica b to follow every minute", func() bool { return len(b.Minutes(next, c.Key(), 61)) == 60 })

	c.Value = 0.6
	p := b.Past(next, c)
	// The last 29 minutes were 0.31..0.59 and now 0.6: slope 0.01 a
	// minute, 0.6 + 0.6 an hour on.
	if p.Projected == nil || !nearScore(*p.Projected, 1.2) {
		t.Errorf("projection %v, want 1.2", p.Projected)
	}
	if p.DayHigh == nil || !nearScore(*p.DayHigh, 0.56) {
		t.Errorf("day high %v, want the 95th percentile of 0.00..0.59: 0.56", p.DayHigh)
	}

	// The first record in a new hour writes the last hour's aggregate, once.
	eventually(t, "replica a to follow every minute", func() bool { return len(a.Minutes(next, c.Key(), 61)) == 60 })
	if err := a.Record(ctx, next, []Check{c}); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(ctx, next.Add(2*time.Second), []Check{c}); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, eng.JS, HourStream); n != 1 {
		t.Fatalf("%d hour samples, want 1", n)
	}
	var means, maxes []float64
	eventually(t, "the hour's aggregate", func() bool {
		means, maxes = b.Hourly(next.Add(time.Hour), c.Key(), 24)
		return len(means) == 1
	})
	if !nearScore(means[0], 0.295) || !nearScore(maxes[0], 0.59) {
		t.Errorf("hour mean %v max %v, want 0.295 and 0.59", means, maxes)
	}
}

func TestRingBounds(t *testing.T) {
	r := newRing(4)
	r.limit = 2
	r.put(10, map[string]float64{"a": 1, "b": 2})
	r.put(11, map[string]float64{"c": 3}) // a third key is over the limit
	if len(r.cols) != 2 {
		t.Fatalf("%d columns, want 2", len(r.cols))
	}
	r.put(14, map[string]float64{"a": 5}) // slot of 10 is reused
	if got := r.series("a", 14, 5); len(got) != 1 || got[0] != 5 {
		t.Errorf("series a = %v, want [5]: the overwritten minute is gone", got)
	}
	r.put(10, map[string]float64{"a": 9}) // older than the slot holds
	if got := r.series("a", 14, 5); len(got) != 1 {
		t.Errorf("an old sample overwrote a newer one: %v", got)
	}
}
