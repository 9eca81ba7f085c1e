package ops

import (
	"fmt"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
)

// benchChecks are n checks over n/5 components of 5 sites, a tenth of
// them past their warning level.
func benchChecks(n int) []Check {
	cs := make([]Check, n)
	for i := range cs {
		v := 0.5
		if i%10 == 0 {
			v = 0.85
		}
		cs[i] = Check{Site: fmt.Sprintf("site-%d", i%5), Component: fmt.Sprintf("sink/s%d", i/5), Name: fmt.Sprintf("c%d", i%5), Value: v, Warn: 0.7, Crit: 0.9}
	}
	return cs
}

// BenchmarkEvaluate is the CPU of scoring one evaluation (history lookups
// included as a constant Past); at the default 15 s interval, ns/op / 15e9
// is the share of one core.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs := benchChecks(n)
			proj, high := 0.8, 0.9
			past := func(Check) Past { return Past{Projected: &proj, DayHigh: &high} }
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(time.Unix(0, 0), cs, config.Health{}, past)
			}
		})
	}
}

// BenchmarkPast is one check's history lookup on a full day of minutes.
func BenchmarkPast(b *testing.B) {
	h := &History{minutes: newRing(dayMinutes), hours: newRing(monthHours), hourMax: newRing(monthHours)}
	c := Check{Component: "engine", Name: "disk_used", Value: 0.5, Warn: 0.7, Crit: 0.9}
	now := time.Unix(1_800_000_000, 0)
	for m := int64(0); m < dayMinutes; m++ {
		h.minutes.put(now.Unix()/60-m, map[string]float64{c.Key(): 0.4})
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Past(now, c)
	}
}
