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
	warmProcs     prometheus.Gauge
	warmStarts    *prometheus.CounterVec
	warmExits     prometheus.Counter
	warmFrames    prometheus.Counter
	warmMisses    prometheus.Counter
	warmFull      prometheus.Counter
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
		warmProcs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stadion_capture_warm_processes", Help: "Warm ffmpeg processes this process runs (at most capture.warm).",
		}),
		warmStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_capture_warm_starts_total", Help: "Warm ffmpeg processes started, by result (ok, error).",
		}, []string{"result"}),
		warmExits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_capture_warm_failures_total", Help: "Warm ffmpeg processes that exited without being stopped (restarted with backoff).",
		}),
		warmFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_capture_warm_frames_total", Help: "Ticks captured from a warm ffmpeg.",
		}),
		warmMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_capture_warm_misses_total", Help: "Ticks for which the warm ffmpeg gave no frame in time (taken by a one-shot ffmpeg instead).",
		}),
		warmFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_capture_warm_full_total", Help: "Ticks taken by a one-shot ffmpeg because capture.warm processes ran already.",
		}),
	}
	reg.MustRegister(m.warmProcs, m.warmStarts, m.warmExits, m.warmFrames, m.warmMisses, m.warmFull)
	reg.MustRegister(m.captures, m.retries, m.stale, m.missed, m.latency, m.ffmpegSeconds, m.fetches, m.fetchBytes, m.relaySessions, m.relayInFlight)
	return m
}
