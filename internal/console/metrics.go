package console

import "github.com/prometheus/client_golang/prometheus"

// metrics are the console's own series. Open feeds are counted by the
// shared stream gauge (stadion_http_streams_open{kind="console"}).
type metrics struct {
	series        prometheus.GaugeFunc
	seriesDropped prometheus.Counter
	feedDropped   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		seriesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_console_series_dropped_total",
			Help: "Samples of new series the console did not keep because it held its cap of series.",
		}),
		feedDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_console_feed_dropped_total",
			Help: "Samples a console feed missed because its reader had fallen behind.",
		}),
	}
	reg.MustRegister(m.seriesDropped, m.feedDropped)
	return m
}
