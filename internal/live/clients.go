package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// Roles of API clients in live.
const (
	RoleIssuer    = "live-issuer"    // may mint viewer tokens
	RoleModerator = "live-moderator" // may set room states and pinned messages
)

var (
	errReadOnly = errors.New("this connection may not publish there")
	errRevoked  = errors.New("the credentials of this connection were revoked")
)

// viewer is a connection with a viewer token: it reads rooms and bridged
// topics, posts to rooms and reads its own rejections.
type viewer struct {
	s        *Service
	v        Viewer
	clientID string
	remote   net.Addr
}

// anonymous is a read-only viewer without a token.
type anonymous struct{ s *Service }

// system is a connection with an API key: it reads like a viewer, and a
// moderator (or the admin) sets rooms' pinned messages.
type system struct {
	s      *Service
	client string
	keyID  string
	role   string          // the key's role when client is admin
	gone   context.Context // ends when the key is revoked
}

func (c *viewer) String() string    { return "viewer " + c.v.User }
func (c *anonymous) String() string { return "anonymous viewer" }
func (c *system) String() string    { return "client " + c.client }

func (c *viewer) Owner() string    { return viewerOwner(c.v.User) }
func (c *anonymous) Owner() string { return "" }
func (c *system) Owner() string    { return keyOwner(c.keyID) }

func (c *viewer) Revoked() bool    { return c.s.revoked.ended(c.v) }
func (c *anonymous) Revoked() bool { return false }
func (c *system) Revoked() bool    { return c.gone.Err() != nil }

func (c *viewer) CanSubscribe(f string) bool    { return c.s.canRead(f, c.v.User) }
func (c *anonymous) CanSubscribe(f string) bool { return c.s.canRead(f, "") }
func (c *system) CanSubscribe(f string) bool    { return c.s.canRead(f, "") }

func (c *anonymous) Publish(mqtt.Message, func(error)) error { return errReadOnly }

func (c *viewer) Publish(m mqtt.Message, done func(error)) error {
	if c.Revoked() {
		return errRevoked // a will, or a post racing the revocation
	}
	room, ok := roomOf(m.Topic, "post")
	if !ok || !c.s.hasRoom(room) {
		return fmt.Errorf("%w: viewers publish only to live/{room}/post", errReadOnly)
	}
	c.s.m.posts.WithLabelValues("mqtt").Inc()
	if _, _, ok := c.s.allowPost(c.v, room, c.clientID, c.remote); !ok {
		// dropped: acknowledged and not stored (MQTT 3.1.1 has no
		// negative acknowledgement, and closing would invite a reconnect)
		c.s.m.rejected.WithLabelValues("limited").Inc()
		if done != nil {
			done(nil)
		}
		return nil
	}
	c.s.post(c.v, room, m.Payload, "", done)
	return nil
}

func (c *system) Publish(m mqtt.Message, done func(error)) error {
	if c.Revoked() {
		return errRevoked // a will, or a pin racing the revocation
	}
	room, ok := roomOf(m.Topic, "pinned")
	if !ok || !c.s.hasRoom(room) || !c.s.moderates(c.client) || (c.role != "" && c.role != api.RoleAdmin) {
		return fmt.Errorf("%w: a moderator's key publishes only to live/{room}/pinned", errReadOnly)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.s.pin(ctx, room, m.Payload)
	if done != nil {
		done(err)
	}
	return nil
}

// moderates reports whether an API client may moderate rooms.
func (s *Service) moderates(client string) bool {
	return client == config.AdminClient || s.cfg.HasRole(client, RoleModerator)
}

// roomOf returns the room of live/{room}/{leaf}.
func roomOf(topic, leaf string) (string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "live" || parts[2] != leaf {
		return "", false
	}
	return parts[1], true
}

// canRead is the subscription ACL: room comments and pinned messages (a
// room or '+'), the reader's own rejections, and bridged topics. Nothing
// else, and never '#' across rooms: a filter must fall inside one of
// these shapes.
func (s *Service) canRead(filter, user string) bool {
	lv := strings.Split(filter, "/")
	if lv[0] == "live" {
		return s.canReadRoom(lv, user)
	}
	for _, prefix := range s.cfg.Live.Bridge {
		if s.insideBridge(lv, strings.Split(prefix, "/")) {
			return true
		}
	}
	return false
}

func (s *Service) canReadRoom(lv []string, user string) bool {
	if len(lv) < 3 || lv[1] == "#" || (lv[1] != "+" && !s.hasRoom(lv[1])) {
		return false
	}
	switch {
	case len(lv) == 3:
		return lv[2] == "comments" || lv[2] == "pinned" || lv[2] == "+"
	case len(lv) == 4 && lv[2] == "rejected":
		return user != "" && lv[3] == user && lv[1] != "+"
	}
	return false
}

// insideBridge reports whether a filter stays inside a bridged prefix:
// the prefix itself, or one level under it (a key, '+' or '#').
func (s *Service) insideBridge(lv, prefix []string) bool {
	if len(lv) < len(prefix) || len(lv) > len(prefix)+1 {
		return false
	}
	for i, p := range prefix {
		if lv[i] != p {
			return false
		}
	}
	return len(lv) == len(prefix) || lv[len(prefix)] == "+" || lv[len(prefix)] == "#" || config.ValidTopicLevel(lv[len(prefix)])
}
