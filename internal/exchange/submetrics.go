package exchange

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

// subMetrics count what subscriptions' retries and dead letters do. Retries
// and dead letters are this process's; lag is read from the engine on
// each scrape, so it covers every replica.
type subMetrics struct {
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	pushes      *prometheus.CounterVec
	push        pushHealth // this process's last webhook outcomes, for health checks
}

func newSubMetrics(reg prometheus.Registerer, x *Exchange) *subMetrics {
	m := &subMetrics{
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_subscription_retries_total",
			Help: "Events handed out again after a nack or an ack timeout.",
		}, []string{"subscription"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_subscription_dead_letters_total",
			Help: "Events that exhausted their attempts and were stored as dead letters.",
		}, []string{"subscription"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_subscription_pushes_total",
			Help: "Webhook deliveries, by outcome (ok, failed).",
		}, []string{"subscription", "outcome"}),
	}
	m.push.last = map[string]pushOutcome{}
	reg.MustRegister(m.retries, m.deadLetters, m.pushes, lagCollector{x})
	return m
}

var lagDesc = prometheus.NewDesc("stadion_subscription_lag",
	"Events of the topic not yet acknowledged by the subscription (pending + awaiting ack).",
	[]string{"subscription"}, nil)

// lagCollector reads every subscription's consumer on scrape.
type lagCollector struct{ x *Exchange }

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	x := c.x
	if x.subs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, err := x.subs.ListKeys(ctx)
	if err != nil {
		return
	}
	for name := range names.Keys() {
		if !config.ValidName(name) { // reserved entries (the consumer key)
			continue
		}
		s, err := x.loadSubscription(ctx, name)
		if err != nil {
			continue
		}
		ci, err := x.js.Consumer(ctx, StreamName(s.Topic), x.consumerName(s.Name))
		if err != nil {
			continue
		}
		info := ci.CachedInfo()
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(info.NumPending)+float64(info.NumAckPending), name)
	}
}
