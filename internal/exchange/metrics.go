package exchange

import "github.com/prometheus/client_golang/prometheus"

// Reasons a publish is rejected, as the "reason" metric label.
const (
	reasonMalformed  = "malformed"
	reasonSchema     = "schema"
	reasonForbidden  = "forbidden"
	reasonNotFound   = "unknown_topic"
	reasonTooLarge   = "too_large"
	reasonMediaType  = "media_type"
	reasonEngine     = "engine"
	reasonBadRequest = "bad_request"
)

type metrics struct {
	published  *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	prev       publishTotals // at the last health evaluation (checks.go)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_exchange_events_published_total",
			Help: "Events stored in a topic (acknowledged by the engine).",
		}, []string{"topic"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_exchange_events_duplicate_total",
			Help: "Publishes answered from the dedupe window (Idempotency-Key or CloudEvent id seen before).",
		}, []string{"topic"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_exchange_publish_rejected_total",
			Help: "Publish requests rejected, by reason.",
		}, []string{"topic", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stadion_exchange_publish_duration_seconds",
			Help:    "Time from receiving a publish request to the engine's acknowledgement.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 5},
		}, []string{"topic"}),
	}
	reg.MustRegister(m.published, m.duplicates, m.rejected, m.latency)
	return m
}

// gateMetrics count the plain-NATS JetStream gateway's work (natsgate.go).
type gateMetrics struct {
	forwarded *prometheus.CounterVec
	refused   *prometheus.CounterVec
	backlog   prometheus.Gauge
}

func newGateMetrics(reg prometheus.Registerer, x *Exchange) *gateMetrics {
	m := &gateMetrics{
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_exchange_nats_gateway_requests_total",
			Help: "JetStream requests and acks of plain NATS clients passed to the engine or answered by the gateway, by operation.",
		}, []string{"op"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_exchange_nats_gateway_refused_total",
			Help: "JetStream requests and acks of plain NATS clients refused, by reason (reply, busy, rate, operation, stream, consumer, name, config, cap, malformed, engine).",
		}, []string{"reason"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_exchange_nats_gateway_backlog",
			Help: "Requests waiting for a gateway worker on this replica (at most 4096; beyond, refused as busy).",
		}),
	}
	engine := func(f func(NATSEngine) float64) func() float64 {
		return func() float64 {
			if g := x.gate.Load(); g != nil {
				return f(g.eng)
			}
			return 0
		}
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stadion_exchange_nats_pending_responses",
		Help: "Routes the engine holds back to plain NATS clients' inboxes (pull requests in flight); past 50,000 the busiest client is disconnected.",
	}, engine(func(e NATSEngine) float64 { return float64(e.PendingResponses()) }))
	cut := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "stadion_exchange_nats_clients_cut_total",
		Help: "Times a plain NATS client's connections were closed for holding too many requests in flight.",
	}, engine(func(e NATSEngine) float64 { return float64(e.ClientsCut()) }))
	reg.MustRegister(m.forwarded, m.refused, m.backlog, pending, cut)
	return m
}
