package limits

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/stadion-dev/stadion/internal/limits"
)

// checkCost is the in-process time to decide the publishers' request with
// each count of the bench's limits in force, in ns.
func checkCost(counts []int) map[int]float64 {
	out := map[int]float64{}
	for _, n := range counts {
		specs := map[string]limits.Spec{}
		for i := range n {
			raw := benchLimit(i)
			m := raw["match"].(map[string]any)
			s := limits.Spec{Rate: "10/s"}
			s.Match.UserAgent, _ = m["user_agent"].(string)
			s.Match.Client, _ = m["client"].(string)
			s.Match.Source, _ = m["source"].(string)
			s.Match.Route, _ = m["route"].(string)
			specs[fmt.Sprintf("bench-%d", i)] = s
		}
		lm := limits.NewLimiter(nil, nil)
		if err := lm.Load(specs); err != nil {
			panic(err) // the bench's own limits compile
		}
		r := limits.Request{Method: "POST", Path: "/v1/topics/bench/events", UserAgent: benchAgent, Source: netip.MustParseAddr("127.0.0.1"), Client: "pub", KeyID: "0123456789abcdef"}
		const iters = 200000
		t0 := time.Now()
		for range iters {
			d := lm.Check(&r)
			d.Done()
		}
		out[n] = float64(time.Since(t0).Nanoseconds()) / iters
	}
	return out
}
