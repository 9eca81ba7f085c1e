package limits

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the limits' Prometheus series. The limit label takes at most
// MaxLimits values (plus the limits removed since the process started,
// whose series are deleted with them).
type metrics struct {
	matched, limited, shadow, overflow *prometheus.CounterVec
	configured                         prometheus.Gauge
	changes                            prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		matched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_limits_matched_total", Help: "Requests and MQTT events a runtime limit matched, by limit.",
		}, []string{"limit"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_limits_limited_total", Help: "Requests and MQTT events an enforcing limit refused, by limit.",
		}, []string{"limit"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_limits_shadow_limited_total", Help: "Requests a shadow limit would have refused, by limit.",
		}, []string{"limit"}),
		overflow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_limits_per_overflow_total", Help: "Requests of a per limit counted in its shared overflow bucket because it tracked 10,000 values already, by limit.",
		}, []string{"limit"}),
		configured: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_limits_configured", Help: "Runtime limits in force in this process.",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_limits_changes_total", Help: "Changes of the limits bucket this process applied.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.matched, m.limited, m.shadow, m.overflow, m.configured, m.changes)
	}
	return m
}

// limitMetrics are one limit's series and its counts for the stats answer.
type limitMetrics struct {
	matched, limited, shadow, overflow prometheus.Counter
	nMatched, nLimited, nShadow        atomic.Int64
}

func (m *metrics) forLimit(name string) *limitMetrics {
	return &limitMetrics{
		matched: m.matched.WithLabelValues(name), limited: m.limited.WithLabelValues(name),
		shadow: m.shadow.WithLabelValues(name), overflow: m.overflow.WithLabelValues(name),
	}
}

func (m *metrics) forget(name string) {
	m.matched.DeleteLabelValues(name)
	m.limited.DeleteLabelValues(name)
	m.shadow.DeleteLabelValues(name)
	m.overflow.DeleteLabelValues(name)
}
