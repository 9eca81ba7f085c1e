package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

var _ ops.Source = (*Service)(nil)

// Checks reports each scheduled capture job (component capture/<job>):
// whether its captures are failing, time since its last frame against its
// interval, and the 95th percentile of tick-to-frame latency. Read from
// the status bucket, so they cover every worker of every replica.
func (s *Service) Checks(ctx context.Context) []ops.Check {
	var out []ops.Check
	now := time.Now()
	for _, j := range s.jobs.all() {
		comp := "capture/" + j.name
		st, _, err := s.status.get(ctx, j.name)
		if err != nil {
			out = append(out, ops.State(ops.SiteCloud, comp, "status", true, "reading the job's status: "+err.Error()))
			continue
		}
		failing := st.LastErrorAt != nil && (st.LastSuccess == nil || st.LastErrorAt.After(*st.LastSuccess))
		c := ops.State(ops.SiteCloud, comp, "failing", failing, "")
		if failing {
			c.Detail = "last capture failed: " + st.LastError
		}
		c.Weight = 2
		out = append(out, c)
		every := j.spec.Every.D()
		if every <= 0 {
			continue // cron and triggered jobs have no fixed cadence
		}
		if st.LastSuccess != nil {
			out = append(out, ops.Check{Site: ops.SiteCloud, Component: comp, Name: "since_frame", Unit: "s",
				Value: now.Sub(*st.LastSuccess).Seconds(), Warn: 3 * every.Seconds(), Crit: 10 * every.Seconds(),
				Detail: fmt.Sprintf("seconds since the last frame; the job captures every %s (missed ticks)", every)})
		}
		if len(st.Recent) > 0 {
			out = append(out, ops.Check{Site: ops.SiteCloud, Component: comp, Name: "tick_to_frame_p95", Unit: "ms",
				Value: st.latencyPercentile(95), Warn: 0.5 * float64(every.Milliseconds()), Crit: float64(every.Milliseconds()),
				Detail: "95th percentile of the time from a tick to its stored frame, over the recent captures"})
		}
	}
	return out
}
