package ops

import "github.com/prometheus/client_golang/prometheus"

// alertMetrics are the alerts' Prometheus series.
type alertMetrics struct {
	firing        prometheus.Gauge
	transitions   *prometheus.CounterVec
	opsDropped    prometheus.Counter
	notifications *prometheus.CounterVec
	queued        *prometheus.GaugeVec
}

func newAlertMetrics(reg prometheus.Registerer) *alertMetrics {
	m := &alertMetrics{
		firing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_alerts_firing", Help: "Alerts firing (as this replica mirrors the shared state).",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_alert_transitions_total", Help: "Alerts this replica moved to firing or resolved (it won the transition and notified), by kind and status.",
		}, []string{"kind", "status"}),
		opsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_alert_ops_dropped_total", Help: "Fire or resolve calls dropped because 1024 were already waiting.",
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_alert_notifications_total", Help: "Alert notification attempts by receiver and outcome (ok, failed: an attempt failed and is retried, expired: retried for retry_for and given up, dropped: could not be queued in the engine).",
		}, []string{"receiver", "outcome"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stadion_alert_notifications_queued", Help: "Notifications waiting for a receiver in the engine (at most alerts.max_queued; the oldest is discarded past it), as this replica last fetched.",
		}, []string{"receiver"}),
	}
	if reg != nil {
		reg.MustRegister(m.firing, m.transitions, m.opsDropped, m.notifications, m.queued)
	}
	return m
}
