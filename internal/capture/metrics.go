package capture

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	captures      *prometheus.CounterVec
	retries       *prometheus.CounterVec
	stale         *prometheus.CounterVec
	missed        *prometheus.CounterVec
	latency       prometheus.Histogram
	ffmpegSeconds prometheus.Histogram
	fetches       *prometheus.CounterVec
	fetchBytes    prometheus.Counter
	relaySessions prometheus.Gauge
	relayInFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_capture_captures_total", Help: "Captures taken by this process, by job and result (ok, error).",
		}, []string{"job", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_capture_retries_total", Help: "Capture attempts retried after a failure.",
		}, []string{"job"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_capture_stale_ticks_total", Help: "Scheduled ticks skipped because they were too late.",
		}, []string{"job"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_capture_unpublished_ticks_total", Help: "Ticks this process could not store in the engine.",
		}, []string{"job"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stadion_capture_tick_to_frame_seconds", Help: "From a tick's due time to its frame stored.",
			Buckets: []float64{.25, .5, 1, 2, 3, 5, 10, 30},
		}),
		ffmpegSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stadion_capture_ffmpeg_seconds", Help: "Wall time of one ffmpeg run.",
			Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30},
		}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_capture_fetches_total", Help: "Requests capture made to sources (playlist checks and what ffmpeg asked the relay for), by result (ok, refused: not in capture.allow, too_large, busy: over the per-capture cap of concurrent requests, failed).",
		}, []string{"result"}),
		fetchBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_capture_fetch_bytes_total", Help: "Bytes the capture relay read from sources.",
		}),
		relaySessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_capture_relay_sessions", Help: "Captures reading through the relay now.",
		}),
		relayInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_capture_relay_in_flight", Help: "Relay requests in flight.",
		}),
	}
	reg.MustRegister(m.captures, m.retries, m.stale, m.missed, m.latency, m.ffmpegSeconds, m.fetches, m.fetchBytes, m.relaySessions, m.relayInFlight)
	return m
}
