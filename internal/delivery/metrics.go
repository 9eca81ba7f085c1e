package delivery

import "github.com/prometheus/client_golang/prometheus"

// metrics are the sinks' Prometheus series, labelled by sink.
type metrics struct {
	rows, batches, retries, deadLetters *prometheus.CounterVec
	duration                            *prometheus.HistogramVec
	lag, rateShare                      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stadion", Subsystem: "sink", Name: name, Help: help}, []string{"sink"})
	}
	m := &metrics{
		rows:        counter("rows_written_total", "Rows committed to the sink's table (including no-op replays)."),
		batches:     counter("batches_total", "Transactions committed."),
		retries:     counter("retries_total", "Failed writes that were retried."),
		deadLetters: counter("dead_letters_total", "Events moved to the sink's dead-letter stream."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "stadion", Subsystem: "sink", Name: "batch_duration_seconds",
			Help: "Time to write and commit one batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"sink"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "stadion", Subsystem: "sink", Name: "lag",
			Help: "Events of the topic not yet delivered to the sink, as of its last batch.",
		}, []string{"sink"}),
		rateShare: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "stadion", Subsystem: "sink", Name: "max_rate_share",
			Help: "Rows per second this process may write to the sink: max_rate divided by the live stadion processes (absent without max_rate).",
		}, []string{"sink"}),
	}
	reg.MustRegister(m.rows, m.batches, m.retries, m.deadLetters, m.duration, m.lag, m.rateShare)
	return m
}

// sinkMetrics are one sink's series.
type sinkMetrics struct {
	rows, batches, retries, deadLetters prometheus.Counter
	duration                            prometheus.Observer
	lag, rateShare                      prometheus.Gauge
}

func (m *metrics) forSink(name string) sinkMetrics {
	return sinkMetrics{
		rows: m.rows.WithLabelValues(name), batches: m.batches.WithLabelValues(name),
		retries: m.retries.WithLabelValues(name), deadLetters: m.deadLetters.WithLabelValues(name),
		duration: m.duration.WithLabelValues(name), lag: m.lag.WithLabelValues(name),
		rateShare: m.rateShare.WithLabelValues(name),
	}
}
