package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

var _ ops.Source = (*Service)(nil)

// dropRate turns the cumulative count of messages dropped for slow
// viewers into a rate between two health evaluations.
type dropRate struct {
	mu   sync.Mutex
	last int64
	at   time.Time
}

func (d *dropRate) perMinute(total int64, now time.Time) (float64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	last, at := d.last, d.at
	d.last, d.at = total, now
	if at.IsZero() || !now.After(at) || total < last {
		return 0, false
	}
	return float64(total-last) / now.Sub(at).Minutes(), true
}

// Checks reports this process's MQTT connections against its cap, the
// messages it dropped for slow viewers per minute, and the posts waiting
// for moderation (the engine's, for every replica).
func (s *Service) Checks(ctx context.Context) []ops.Check {
	st := s.mqtt.Stats()
	var out []ops.Check
	if limit := s.cfg.Live.MQTT.MaxConnections; limit > 0 {
		n := st.Connections.Load()
		out = append(out, ops.Check{Site: ops.SiteCloud, Component: "live", Name: "connections_used", Unit: "ratio",
			Value: float64(n) / float64(limit), Warn: 0.8, Crit: 0.95, Weight: 2,
			Detail: fmt.Sprintf("%d of live.mqtt.max_connections %d on this process", n, limit)})
	}
	if rate, ok := s.drops.perMinute(st.Dropped.Load(), time.Now()); ok {
		out = append(out, ops.Check{Site: ops.SiteCloud, Component: "live", Name: "slow_viewer_drops", Unit: "per min",
			Value: rate, Warn: 1000, Crit: 100000, Detail: "comments dropped for viewers not reading fast enough"})
	}
	if c, err := s.js.Consumer(ctx, postsStream, moderatorsConsumer); err == nil {
		if info, err := c.Info(ctx); err == nil {
			out = append(out, ops.Check{Site: ops.SiteCloud, Component: "live", Name: "moderation_backlog", Unit: "batches",
				Value: float64(info.NumPending) + float64(info.NumAckPending), Warn: 100, Crit: 1000, Weight: 2,
				Detail: "batches of posted comments waiting for a moderation worker"})
		}
	}
	return out
}
