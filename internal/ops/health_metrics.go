package ops

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// healthMetrics are the scores as gauges. Components that disappear are
// removed at the next evaluation.
type healthMetrics struct {
	site, component *prometheus.GaugeVec
	checks          prometheus.Gauge
	dropped         prometheus.Counter
	duration        prometheus.Histogram
	alerts          prometheus.Gauge

	mu   sync.Mutex
	seen map[[2]string]bool // (site, component); component "" for a site
}

func newHealthMetrics(reg prometheus.Registerer) *healthMetrics {
	m := &healthMetrics{
		site: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "stadion", Subsystem: "health", Name: "site_score",
			Help: "Health score (0-100) of a site: the cloud or a venue.",
		}, []string{"site"}),
		component: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "stadion", Subsystem: "health", Name: "component_score",
			Help: "Health score (0-100) of a component of a site.",
		}, []string{"site", "component"}),
		checks: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "stadion", Subsystem: "health", Name: "checks",
			Help: "Checks in the last evaluation.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "stadion", Subsystem: "health", Name: "checks_dropped_total",
			Help: "Checks cut because an evaluation had more than 5000.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "stadion", Subsystem: "health", Name: "evaluation_seconds",
			Help: "Time to gather and score every check.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		alerts: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "stadion", Subsystem: "health", Name: "alerts_firing",
			Help: "Health alerts firing.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.site, m.component, m.checks, m.dropped, m.duration, m.alerts)
	}
	return m
}

// observe sets every score and deletes the series of sites and components
// that are gone (a scrape never sees a half-written set).
func (m *healthMetrics) observe(r Report, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.duration.Observe(took.Seconds())
	seen := map[[2]string]bool{}
	n := 0
	for _, s := range r.Sites {
		m.site.WithLabelValues(s.Name).Set(s.Score)
		seen[[2]string{s.Name, ""}] = true
		for _, c := range s.Components {
			m.component.WithLabelValues(s.Name, c.Name).Set(c.Score)
			seen[[2]string{s.Name, c.Name}] = true
			n += len(c.Checks)
		}
	}
	for k := range m.seen {
		if seen[k] {
			continue
		}
		if k[1] == "" {
			m.site.DeleteLabelValues(k[0])
		} else {
			m.component.DeleteLabelValues(k[0], k[1])
		}
	}
	m.seen = seen
	m.checks.Set(float64(n))
}
