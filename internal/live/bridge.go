package live

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// bridgeQueue makes one process in the deployment republish each event.
const bridgeQueue = "live-bridge"

// startBridge republishes the events of bridged exchange topics to MQTT:
// the whole CloudEvent on the prefix topic, and on prefix/{key} for keyed
// events, both retained so that a screen that connects gets the latest
// at once.
func (s *Service) startBridge() error {
	for topic, prefix := range s.cfg.Live.Bridge {
		sub, err := s.nc.QueueSubscribe("topic."+topic+".>", bridgeQueue, func(m *nats.Msg) { s.bridge(prefix, m) })
		if err != nil {
			return err
		}
		sub.SetPendingLimits(1<<16, 64<<20)
		s.mu.Lock()
		s.watched["\x00bridge:"+topic] = sub
		s.mu.Unlock()
	}
	return nil
}

func (s *Service) bridge(prefix string, m *nats.Msg) {
	targets := []string{prefix}
	if i := strings.LastIndexByte(m.Subject, '.'); i >= 0 {
		if key := m.Subject[i+1:]; key != "_" && config.ValidTopicLevel(key) {
			targets = append(targets, prefix+"/"+key)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, t := range targets {
		if err := s.retained.set(ctx, t, m.Data); err != nil {
			s.log.Warn("bridge: retained message not stored", "topic", t, "err", err)
		}
		s.nc.Publish(topicSubject(t), m.Data)
	}
}

// pin sets (or with an empty payload clears) a room's pinned message:
// retained on live/{room}/pinned and sent to the room's viewers. The
// message must be strict JSON (api.CheckJSON), whether it came over HTTP
// or MQTT: every viewer's client parses it.
func (s *Service) pin(ctx context.Context, room string, payload []byte) error {
	if len(payload) > 0 {
		if err := api.CheckJSON(payload); err != nil {
			return fmt.Errorf("the pinned message is not strict JSON: %w", err)
		}
	}
	t := pinnedTopic(room)
	if err := s.retained.set(ctx, t, payload); err != nil {
		return err
	}
	// A cleared pin reaches the viewers watching too, as an empty message
	// (MQTT-3.3.1-10), and their pages hide it.
	return s.nc.Publish(topicSubject(t), payload)
}
