package engine

import (
	"crypto/subtle"
	"log/slog"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
)

// Permissions lists the subjects a NATS connection may publish and subscribe
// to. A nil *Permissions means everything.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// Grant is what an outside NATS client is admitted with. A client that is
// not Admin is confined to an account of its own (see clients.go): it
// receives the subjects of stadion's account listed in Receive, and reaches
// JetStream only through stadion's gateway subjects, never directly.
type Grant struct {
	// Client is the client's name (lower-case letters, digits, '-', '_').
	Client string
	// KeyID is the key presented; CloseKey(KeyID) ends the connection.
	KeyID string
	// Admin places the connection in stadion's own account with every
	// permission but the protected subjects (Engine.Protect), unless
	// Owner is set too.
	Admin bool
	// Owner is the key of a server's admin.key: every permission.
	Owner bool
	// Receive lists subjects of stadion's account delivered into the
	// client's account (core NATS live events), e.g. "topic.laps.>".
	Receive []string
	// Streams lists the JetStream streams the client may read (info,
	// message get, direct get); consumers on them go through the gateway.
	Streams []string
}

// Authorizer maps a token presented by a NATS client (a stadion API key) to
// what it is granted. NATSAuthorize is called from the engine's connection
// handling, concurrently, and must not block on the engine. NATSAdmitted
// is called in a goroutine of its own once a client's account has been
// made on this engine (its first connection here), so that consumers the
// client owns can be granted (Engine.GrantConsumer).
type Authorizer interface {
	NATSAuthorize(token string) (Grant, bool)
	NATSAdmitted(g Grant)
}

// authenticator admits stadion's own in-process connection by a secret
// made at start and everyone else through the Authorizer.
type authenticator struct {
	internal string
	next     atomic.Pointer[Authorizer]
	leaf     atomic.Pointer[LeafAuthorizer]
	clients  *clientAccounts
	log      *slog.Logger

	leafs leafUsers // who each admitted leafnode connection is

	// protected are subjects no outside connection may publish to, the
	// admin's included (Engine.Protect).
	protected atomic.Pointer[[]string]
}

// Protect denies every outside NATS connection admitted from now on,
// admin keys included, publishing to subjects. stadion's own connection
// and the key of admin.key (Grant.Owner: whoever holds it holds the
// engine's files, and another stadion may use it as its engine
// connection) keep every right. Client accounts reach none of stadion's subjects
// anyway; this closes them to the admin's connections in stadion's
// account, e.g. the audit trail's stream and its JetStream API.
func (e *Engine) Protect(subjects ...string) {
	if e.auth == nil {
		return
	}
	list := append([]string(nil), subjects...)
	if old := e.auth.protected.Load(); old != nil {
		list = append(list, *old...)
	}
	e.auth.protected.Store(&list)
}

// adminPermissions are an admin connection's: everything but the
// protected subjects (nil: everything).
func (a *authenticator) adminPermissions() *server.Permissions {
	deny := a.protected.Load()
	if deny == nil || len(*deny) == 0 {
		return nil
	}
	return &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: *deny}}
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
	g, ok := (*next).NATSAuthorize(token)
	if !ok || !validToken(g.Client) {
		a.log.Info("nats client refused", "remote", c.RemoteAddress())
		return false
	}
	user := &server.User{Username: userName(g.Client, g.KeyID)}
	if !g.Admin {
		acc, isNew, err := a.clients.account(g)
		if err != nil {
			a.log.Error("nats client account", "client", g.Client, "err", err)
			return false
		}
		user.Account, user.Permissions = acc, clientPermissions()
		if isNew {
			go (*next).NATSAdmitted(g)
		}
	} else if !g.Owner {
		user.Permissions = a.adminPermissions()
	}
	c.RegisterUser(user)
	return true
}

// userName is the NATS user name of a connection admitted with key id of
// client: connections are found by it when the key is revoked.
func userName(client, keyID string) string { return client + "#" + keyID }

func serverPerms(p *Permissions) *server.Permissions {
	if p == nil {
		return nil
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
	}
}

// validToken reports whether s is usable as one subject token and account
// name part: the client names stadion's configuration allows.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
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
