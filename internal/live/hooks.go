package live

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

// batchHeader marks an engine message that carries several MQTT payloads,
// one per line (the accepted comments of a moderation batch).
const batchHeader = "Live-Batch"

// hooks connects the MQTT server to the engine.
type hooks struct{ s *Service }

var _ mqtt.Hooks = hooks{}

// Authenticate accepts a viewer token or an API key as the password, or
// no password at all when anonymous reading is on.
func (h hooks) Authenticate(c *mqtt.Connect) (mqtt.Client, byte) {
	s := h.s
	if !c.HasPassword {
		if s.cfg.Live.AnonymousRead {
			return h.limited(c, &anonymous{s: s})
		}
		s.m.refused.WithLabelValues("no_password").Inc()
		return nil, mqtt.RefusedNotAuthorized
	}
	pw := string(c.Password)
	if strings.HasPrefix(pw, tokenPrefix) {
		v, err := s.tokens.verify(pw, time.Now())
		if err != nil {
			s.m.refused.WithLabelValues("bad_token").Inc()
			return nil, mqtt.RefusedBadCredentials
		}
		if s.revoked.ended(v) {
			s.m.refused.WithLabelValues("revoked_token").Inc()
			return nil, mqtt.RefusedBadCredentials
		}
		return h.limited(c, &viewer{s: s, v: v, clientID: c.ClientID, remote: c.Remote})
	}
	rec, err := s.keys.Lookup(pw)
	if err != nil {
		s.m.refused.WithLabelValues("bad_key").Inc()
		return nil, mqtt.RefusedBadCredentials
	}
	return h.limited(c, &system{s: s, client: rec.Client, keyID: rec.ID, role: rec.AdminRole(), gone: s.keys.Revoked(rec.ID)})
}

// limited accepts an authenticated CONNECT unless a runtime limit refuses
// it: then the answer is "server unavailable" (return code 3), the code
// MQTT 3.1.1 has for a server that cannot take the connection now, which
// well-behaved clients meet with backoff.
func (h hooks) limited(c *mqtt.Connect, client mqtt.Client) (mqtt.Client, byte) {
	if !h.s.allowConnect(c, client) {
		return nil, mqtt.RefusedUnavailable
	}
	return client, mqtt.Accepted
}

// Watch follows filter's engine subject for this process's subscribers,
// through the fanout (no goroutine per filter). Watch and Unwatch may
// race (a viewer leaves as another joins): both decide under s.mu, Watch
// keeps a subscription that exists and Unwatch keeps one that local
// subscribers still need.
func (h hooks) Watch(filter string) error {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.watched[filter]; ok {
		return nil
	}
	sub, err := s.nc.ChanSubscribe(filterSubject(filter), s.fan.chanFor(filter))
	if err != nil {
		return err
	}
	s.watched[filter] = sub
	return nil
}

func (h hooks) Unwatch(filter string) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.watched[filter]
	if sub == nil || s.mqtt.Subscribers(filter) > 0 {
		return
	}
	delete(s.watched, filter)
	sub.Unsubscribe()
}

func (h hooks) Retained(filter string) []mqtt.Message { return h.s.retained.match(filter) }

// claimSubject carries client ids connecting anywhere (base64url), with the
// process they connected to as data.
const claimSubject = "live.claim."

// Claimed tells the other processes that clientID connected here.
func (h hooks) Claimed(clientID string) {
	h.s.nc.Publish(claimSubject+sessionKey(clientID), []byte(h.s.id))
}

// followClaims closes this process's connection of a client id that
// connected to another process.
func (s *Service) followClaims() error {
	sub, err := s.nc.Subscribe(claimSubject+"*", func(m *nats.Msg) {
		if string(m.Data) == s.id {
			return
		}
		id, err := base64.RawURLEncoding.DecodeString(m.Subject[len(claimSubject):])
		if err == nil {
			s.mqtt.Kick(string(id))
		}
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.watched["\x00claims"] = sub
	s.mu.Unlock()
	return nil
}

func sessionKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (h hooks) LoadSession(id string) ([]mqtt.Filter, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := h.s.sessions.Get(ctx, sessionKey(id))
	if err != nil {
		return nil, false
	}
	var fs []mqtt.Filter
	if json.Unmarshal(e.Value(), &fs) != nil {
		return nil, false
	}
	return fs, true
}

func (h hooks) SaveSession(id string, fs []mqtt.Filter) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if fs == nil {
		err = h.s.sessions.Purge(ctx, sessionKey(id))
	} else {
		raw, _ := json.Marshal(fs)
		_, err = h.s.sessions.Put(ctx, sessionKey(id), raw)
	}
	if err != nil {
		h.s.log.Warn("mqtt session not saved", "err", err)
	}
}

// deliver hands an engine message to the subscribers of filter, splitting
// comment batches into one MQTT message per comment.
func (s *Service) deliver(filter string, m *nats.Msg) {
	topic := subjectTopic(m.Subject)
	if m.Header.Get(batchHeader) == "" {
		s.mqtt.Deliver(filter, topic, [][]byte{m.Data})
		return
	}
	payloads := make([][]byte, 0, bytes.Count(m.Data, []byte{'\n'})+1)
	for line := range bytes.SplitSeq(m.Data, []byte{'\n'}) {
		if len(line) > 0 {
			payloads = append(payloads, line)
		}
	}
	s.mqtt.Deliver(filter, topic, payloads)
	s.observeFanout(m, len(payloads))
}

// acceptedHeader on a stored batch of comments is when its earliest
// comment was posted (Unix nanoseconds).
const acceptedHeader = "Live-Accepted"

// observeFanout counts the fan-out delay of a batch's n comments: from
// the earliest one's post to its hand-over to this process's MQTT viewers
// (moderation, the engine's write and republish, and the fan-out queue),
// once per watched filter that carried it.
func (s *Service) observeFanout(m *nats.Msg, n int) {
	ns, err := strconv.ParseInt(m.Header.Get(acceptedHeader), 10, 64)
	if err != nil {
		return
	}
	d := max(time.Since(time.Unix(0, ns)).Seconds(), 0)
	for range n {
		s.m.fanoutDelay.Observe(d)
	}
}

// viewers counts this process's subscribers of a room's comments.
func (s *Service) viewers(room string) int {
	return s.mqtt.Subscribers(commentsTopic(room)) + s.mqtt.Subscribers("live/"+room+"/+")
}

// watchedRooms lists the rooms this process has viewers of.
func (s *Service) watchedRooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rooms []string
	for f := range s.watched {
		if room, ok := roomOf(f, "comments"); ok && room != "+" {
			rooms = append(rooms, room)
		}
	}
	return rooms
}
