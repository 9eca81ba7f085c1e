package gate

import "github.com/prometheus/client_golang/prometheus"

type edgeMetrics struct {
	decisions *prometheus.CounterVec
	latency   prometheus.Histogram
}

func newEdgeMetrics(reg prometheus.Registerer) *edgeMetrics {
	m := &edgeMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_edge_decisions_total", Help: "Scan decisions at this edge.",
		}, []string{"decision", "reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stadion_edge_decision_seconds", Help: "Time from a scan request to its stored decision.",
			Buckets: decisionBuckets,
		}),
	}
	reg.MustRegister(m.decisions, m.latency)
	return m
}
