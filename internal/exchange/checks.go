package exchange

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/ops"
)

var _ ops.Source = (*Exchange)(nil)

// pushHealth remembers each push subscription's last webhook outcome in
// this process (one entry per subscription: bounded by the bucket).
type pushHealth struct {
	mu   sync.Mutex
	last map[string]pushOutcome
}

type pushOutcome struct {
	failing bool
	err     string
	at      time.Time
}

func (h *pushHealth) record(sub string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := pushOutcome{at: time.Now()}
	if err != nil {
		o.failing, o.err = true, err.Error()
	}
	h.last[sub] = o
}

func (h *pushHealth) get(sub string) (pushOutcome, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.last[sub]
	return o, ok
}

// pushStale is how long a failed webhook call counts when nothing newer
// is known.
const pushStale = 5 * time.Minute

// Checks reports each durable subscription: lag, events being retried,
// dead letters, and, for push subscriptions, whether the webhook is
// failing. Lag, retries and dead letters are the engine's (every
// replica's); the webhook outcome is this process's last call.
func (x *Exchange) Checks(ctx context.Context) []ops.Check {
	if x.subs == nil {
		return nil
	}
	names, err := x.subs.ListKeys(ctx)
	if err != nil {
		return []ops.Check{ops.State(ops.SiteCloud, "exchange", "subscriptions", true, "listing subscriptions: "+err.Error())}
	}
	out := x.publishChecks()
	for name := range names.Keys() {
		if !config.ValidName(name) {
			continue
		}
		s, err := x.loadSubscription(ctx, name)
		if err != nil {
			continue
		}
		comp := "subscription/" + name
		ci, err := x.js.Consumer(ctx, StreamName(s.Topic), x.consumerName(s.Name))
		if err != nil {
			out = append(out, ops.State(ops.SiteCloud, comp, "consumer", true, "the subscription has lost its consumer; PUT it again"))
			continue
		}
		info := ci.CachedInfo()
		out = append(out,
			ops.Check{Site: ops.SiteCloud, Component: comp, Name: "lag", Unit: "events", Warn: 1000, Crit: 10000, Weight: 2,
				Value: float64(info.NumPending) + float64(info.NumAckPending), Detail: "events of " + s.Topic + " not yet acknowledged"},
			ops.Check{Site: ops.SiteCloud, Component: comp, Name: "retrying", Unit: "events", Warn: 0, Crit: 100,
				Value: float64(info.NumRedelivered), Detail: "events delivered more than once and not yet acknowledged"},
		)
		if last := lastActive(info.Delivered.Last, info.Created); info.NumPending > 0 && !last.IsZero() {
			out = append(out, ops.Check{Site: ops.SiteCloud, Component: comp, Name: "idle", Unit: "h", Warn: 1, Crit: 24,
				Value: time.Since(last).Hours(), Detail: "hours since the subscription last took an event while events wait: is its reader gone?"})
		}
		if dl, err := x.dls.Stats(ctx, name); err == nil {
			out = append(out, ops.Check{Site: ops.SiteCloud, Component: comp, Name: "dead_letters", Unit: "events", Warn: 0, Crit: 100,
				Value: float64(dl.Count), Detail: "events in " + DeadLetterStream(name) + dl.Age(time.Now())})
		}
		if s.Push != nil {
			o, ok := x.sm.push.get(name)
			failing := ok && o.failing && time.Since(o.at) < pushStale
			c := ops.State(ops.SiteCloud, comp, "webhook_failing", failing, "")
			if failing {
				c.Detail = fmt.Sprintf("webhook to %s: %s", pushHost(s.Push.URL), o.err)
			}
			c.Weight = 3
			out = append(out, c)
		}
	}
	return out
}

// pushHost is the host of a webhook URL: its path and query may carry a
// token, and health is read by more than the subscription's owner.
func pushHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "its URL"
	}
	return u.Host
}

// lastActive is when a consumer last delivered, or was created.
func lastActive(delivered *time.Time, created time.Time) time.Time {
	if delivered != nil {
		return *delivered
	}
	return created
}
