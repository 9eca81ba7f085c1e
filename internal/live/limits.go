package live

import (
	"net"
	"time"

	"github.com/stadion-dev/stadion/internal/mqtt"
)

// Limits decides MQTT connects and posts against the runtime limits
// (internal/limits, wired by the server). Allow is called from connection
// goroutines and must be safe for concurrent use and quick (no I/O).
type Limits interface {
	Allow(e LimitEvent) (limit string, retryAfter time.Duration, ok bool)
}

// LimitEvent is one CONNECT (Topic "") or post, with who sends it.
type LimitEvent struct {
	Connect   bool
	Topic     string // the post's topic (live/{room}/post)
	ClientID  string // the MQTT client identifier
	Client    string // an API key's client
	KeyID     string
	User      string // a viewer token's user
	Anonymous bool
	Remote    net.Addr
}

// allowConnect checks a CONNECT that authenticated as client.
func (s *Service) allowConnect(c *mqtt.Connect, client mqtt.Client) bool {
	if s.opts.Limits == nil {
		return true
	}
	e := LimitEvent{Connect: true, ClientID: c.ClientID, Remote: c.Remote}
	switch v := client.(type) {
	case *viewer:
		e.User = v.v.User
	case *anonymous:
		e.Anonymous = true
	case *system:
		e.Client, e.KeyID = v.client, v.keyID
	}
	if _, _, ok := s.opts.Limits.Allow(e); !ok {
		s.m.refused.WithLabelValues("limited").Inc()
		return false
	}
	return true
}

// allowPost checks a viewer's post.
func (s *Service) allowPost(v Viewer, room, clientID string, remote net.Addr) (string, time.Duration, bool) {
	if s.opts.Limits == nil {
		return "", 0, true
	}
	return s.opts.Limits.Allow(LimitEvent{Topic: "live/" + room + "/post", User: v.User, ClientID: clientID, Remote: remote})
}
