package live

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

type metrics struct {
	posts        *prometheus.CounterVec
	accepted     prometheus.Counter
	rejected     *prometheus.CounterVec
	refused      *prometheus.CounterVec
	overloaded   prometheus.Counter
	batchSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		posts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_live_posts_total", Help: "Comments posted, by way in (mqtt, http).",
		}, []string{"via"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_comments_accepted_total", Help: "Comments accepted by this process's moderation workers.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_live_comments_rejected_total", Help: "Comments rejected, by reason.",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_live_mqtt_refused_total", Help: "MQTT connections refused at CONNECT, by reason.",
		}, []string{"reason"}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_posts_overloaded_total", Help: "Posts refused because the ingress queue was full.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stadion_live_moderation_batch_seconds", Help: "Time to moderate and store one batch of posts.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	st := func() *mqtt.Stats { return s.mqtt.Stats() }
	reg.MustRegister(m.posts, m.accepted, m.rejected, m.refused, m.overloaded, m.batchSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_mqtt_connections", Help: "Open MQTT connections."},
			func() float64 { return float64(st().Connections.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_delivered_total", Help: "Messages written to MQTT subscribers."},
			func() float64 { return float64(st().Delivered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_dropped_total", Help: "Messages dropped for slow MQTT subscribers."},
			func() float64 { return float64(st().Dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_received_total", Help: "PUBLISH packets received from MQTT clients."},
			func() float64 { return float64(st().Received.Load()) }),
	)
	return m
}
