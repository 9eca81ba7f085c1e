package cli

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/ops"
)

var _ capability = (*ops.SLOService)(nil)

func init() { capabilities = append(capabilities, newOpsSLO) }

// newOpsSLO builds the SLO, alert and anomaly side of ops for `stadion
// up`: always on (with no slos: it evaluates nothing, but alerts and the
// log-template miner still run). It mines the logs of the logger `up`
// built (a LogTee) and the engine's advisories.
func newOpsSLO(ctx context.Context, env serverEnv) (capability, error) {
	gather, ok := env.reg.(prometheus.Gatherer)
	if !ok {
		return nil, errors.New("ops: the metrics registry cannot be read back")
	}
	var feed *ops.LogFeed
	if t, ok := env.log.Handler().(*ops.LogTee); ok {
		feed = t.Feed()
	}
	o := ops.SLOOptions{
		Config: env.cfg, JS: env.eng.JS, Gatherer: gather, Registry: env.reg, Feed: feed, Logger: env.log,
	}
	if feed != nil {
		o.Conn = env.eng.Conn
	}
	if env.cfg.Alerts.Topic != "" {
		o.Publish = func(ctx context.Context, topic string, data []byte, dedupeID string) error {
			_, err := env.x.Publish(ctx, topic, "stadion-ops", data, dedupeID)
			return err
		}
	}
	return ops.NewSLOService(o)
}
