package engine

import (
	"crypto/subtle"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
)

// Permissions lists the subjects a NATS client may publish and subscribe
// to. A nil *Permissions means everything.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// Authorizer maps a token presented by a NATS client (a stadion API key) to
// the client's name and permissions. It is called from the engine's
// connection handling, concurrently, and must not block on the engine.
type Authorizer interface {
	NATSAuthorize(token string) (client string, perms *Permissions, ok bool)
}

// authenticator admits stadion's own in-process connection by a secret
// made at start and everyone else through the Authorizer.
type authenticator struct {
	internal string
	next     atomic.Pointer[Authorizer]
	leaf     atomic.Pointer[LeafAuthorizer]
	log      *slog.Logger

	leafs leafUsers // who each admitted leafnode connection is
}

var _ server.Authentication = (*authenticator)(nil)

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	opts := c.GetOpts()
	if c.Kind() == server.LEAF {
		return a.checkLeaf(c, opts)
	}
	token := opts.Token
	if token == "" {
		token = opts.Password
	}
	if token == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.internal)) == 1 {
		c.RegisterUser(&server.User{Username: "stadion"})
		return true
	}
	next := a.next.Load()
	if next == nil {
		return false
	}
	client, perms, ok := (*next).NATSAuthorize(token)
	if !ok {
		a.log.Info("nats client refused", "remote", c.RemoteAddress())
		return false
	}
	c.RegisterUser(&server.User{Username: client, Permissions: serverPerms(perms)})
	return true
}

func serverPerms(p *Permissions) *server.Permissions {
	if p == nil {
		return nil
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}
}

// checkLeaf admits a venue edge dialing the leafnode port. stadion's own
// secret and client keys are never accepted there.
func (a *authenticator) checkLeaf(c server.ClientAuthentication, opts *server.ClientOpts) bool {
	next := a.leaf.Load()
	if next == nil || opts.Username == "" || opts.Password == "" {
		a.log.Info("leafnode refused", "remote", c.RemoteAddress())
		return false
	}
	name, perms, ok := (*next).LeafAuthorize(opts.Username, opts.Password)
	if !ok {
		a.log.Info("leafnode refused", "remote", c.RemoteAddress(), "user", opts.Username)
		return false
	}
	a.log.Info("leafnode admitted", "remote", c.RemoteAddress(), "name", name)
	a.leafs.admitted(c.RemoteAddress(), name)
	c.RegisterUser(&server.User{Username: name, Permissions: serverPerms(perms)})
	return true
}
