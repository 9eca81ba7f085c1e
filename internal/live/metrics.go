package live

import (
	"sync/atomic"

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
	fanoutDelay  prometheus.Histogram

	bridgeEvents    prometheus.Counter
	bridgeWrites    prometheus.Counter
	bridgeCoalesced prometheus.Counter
	bridgeFailures  prometheus.Counter
	bridgeLost      prometheus.Counter
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
		fanoutDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stadion_live_fanout_delay_seconds",
			Help:    "Time from a comment's post to its hand-over to this process's MQTT viewers (the live_fanout SLO).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		bridgeEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_bridge_events_total", Help: "Events of bridged exchange topics this process republished to MQTT.",
		}),
		bridgeWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_bridge_retained_writes_total", Help: "Retained messages of bridged topics stored in the stadion-live-retained bucket (one per topic and writer round, the newest event's).",
		}),
		bridgeCoalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_bridge_coalesced_total", Help: "Bridged events' retained messages written over by a newer event of the same MQTT topic before they were stored (sent live, never stored).",
		}),
		bridgeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_bridge_write_failures_total", Help: "Retained-message writes of the bridge that failed (the engine slow or away) and are retried with the topic's newest.",
		}),
		bridgeLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_live_bridge_retained_given_up_total", Help: "Bridged events whose retained message was given up: the pending topics stayed at their cap for 10 s, or the service was stopping (sent live all the same).",
		}),
	}
	st := func() *mqtt.Stats { return s.mqtt.Stats() }
	reg.MustRegister(m.posts, m.accepted, m.rejected, m.refused, m.overloaded, m.batchSeconds, m.fanoutDelay,
		m.bridgeEvents, m.bridgeWrites, m.bridgeCoalesced, m.bridgeFailures, m.bridgeLost,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_bridge_pending",
			Help: "Bridged MQTT topics whose newest retained message is not stored yet (waiting for or being written by the bridge's writer), at most 10,000."},
			func() float64 { n, _ := s.bridge.pending.size(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_bridge_dropped_total",
			Help: "Bridged events the engine client dropped before the bridge saw them, its subscription's buffer (65,536 events, 64 MiB) being full: a slow consumer; neither sent live nor retained."},
			func() float64 { return float64(s.bridge.slowConsumerDrops()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_mqtt_connections", Help: "Open MQTT connections."},
			func() float64 { return float64(st().Connections.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_delivered_total", Help: "Messages written to MQTT subscribers."},
			func() float64 { return float64(st().Delivered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_dropped_total", Help: "Messages dropped for slow MQTT subscribers."},
			func() float64 { return float64(st().Dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_received_total", Help: "PUBLISH packets received from MQTT clients."},
			func() float64 { return float64(st().Received.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_sessions_refused_total",
			Help: "MQTT CONNECTs refused because the user (or the anonymous class) holds its cap of persistent sessions."},
			func() float64 { return float64(st().SessionsRefused.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_mqtt_watched_filters", Help: "Distinct MQTT filters this process follows on the engine."},
			func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(len(s.watched)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_mqtt_fanout_queued", Help: "Engine messages waiting for the MQTT fanout goroutines."},
			func() float64 { return float64(s.fan.queued()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_offline_dropped_total",
			Help: "Comments a returning persistent MQTT session missed while away that it did not get: the oldest past live.mqtt.max_offline_messages or max_offline_bytes."},
			func() float64 { return float64(st().OfflineDropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_owed_gone_total",
			Help: "Comments in flight to a persistent MQTT session that the comments stream no longer held when the session resumed."},
			func() float64 { return float64(st().OwedGone.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_mqtt_sessions",
			Help: "MQTT sessions with a client id this process holds: online, or persistent and kept for a client that left."},
			func() float64 { return float64(s.mqtt.Sessions()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stadion_live_mqtt_session_feeds",
			Help: "Persistent MQTT sessions online here reading their comments from LIVE_COMMENTS (one ordered consumer and two goroutines each)."},
			func() float64 { return float64(st().Feeds.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_session_feed_retries_total",
			Help: "Persistent MQTT sessions' reads of LIVE_COMMENTS and saves of their state that failed (the engine slow or away) and were tried again, the client kept connected."},
			func() float64 { return float64(st().FeedRetries.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_sessions_moved_total",
			Help: "Persistent MQTT sessions this process gave up because another process saved them since (a takeover)."},
			func() float64 { return float64(st().SessionsMoved.Load()) }),
	)
	closed := map[string]func(*mqtt.Stats) *atomic.Int64{
		"packet_timeout": func(x *mqtt.Stats) *atomic.Int64 { return &x.PacketTimeouts },
		"idle":           func(x *mqtt.Stats) *atomic.Int64 { return &x.IdleTimeouts },
		"slow_reader":    func(x *mqtt.Stats) *atomic.Int64 { return &x.SlowClosed },
		"revoked":        func(x *mqtt.Stats) *atomic.Int64 { return &x.Revoked },
		"full":           func(x *mqtt.Stats) *atomic.Int64 { return &x.Full },
		"qos2_inflight":  func(x *mqtt.Stats) *atomic.Int64 { return &x.InflightFull },
	}
	for reason, field := range closed {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_closed_total",
			Help:        "MQTT connections closed by the server, by reason: a packet half received past live.mqtt.packet_timeout, silence past the keep-alive or idle_timeout, a client not reading its queue, revoked credentials, live.mqtt.max_connections open (full), more than 1,000 QoS 2 messages sent and not released (qos2_inflight).",
			ConstLabels: prometheus.Labels{"reason": reason}}, func() float64 { return float64(field(st()).Load()) }))
	}
	refusedSubs := map[string]func(*mqtt.Stats) *atomic.Int64{
		"connection": func(x *mqtt.Stats) *atomic.Int64 { return &x.SubscribeRefused },
		"session":    func(x *mqtt.Stats) *atomic.Int64 { return &x.SessionSubRefused },
	}
	for limit, field := range refusedSubs {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stadion_live_mqtt_subscribe_refused_total",
			Help:        "MQTT filters refused (SUBACK 0x80) over live.mqtt.max_subscriptions (cap=connection) or max_session_subscriptions (cap=session).",
			ConstLabels: prometheus.Labels{"cap": limit}}, func() float64 { return float64(field(st()).Load()) }))
	}
	return m
}
