package exchange

import (
	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// NATSAuthorize lets plain NATS clients read topics directly, which is what
// large consumers do: a client connects to the engine's client port with
// its stadion API key as the token. It is confined to an account of its own
// (engine/clients.go) that receives live events of the topics it subscribes
// to (topic.<t>.>) and reaches JetStream only through the gateway
// (natsgate.go), which lets it read those topics' streams and manage the
// consumers it created, and nothing else. It cannot publish into topics:
// events only enter through the validating API. A key of the admin client
// with the admin role gets everything but the engine's protected subjects
// (Engine.Protect: the audit trail); viewer and operator keys are refused,
// since stadion's account has no read-only door: they use the HTTP API,
// where the request policy checks their role. Only the key of admin.key
// keeps every right (Grant.Owner).
func (x *Exchange) NATSAuthorize(token string) (engine.Grant, bool) {
	rec, err := x.keys.Lookup(token)
	if err != nil {
		return engine.Grant{}, false
	}
	if role := rec.AdminRole(); role != "" && role != api.RoleAdmin {
		return engine.Grant{}, false
	}
	g := engine.Grant{Client: rec.Client, KeyID: rec.ID, Admin: rec.Client == api.AdminClient, Owner: rec.File && rec.Client == api.AdminClient}
	if !g.Admin {
		for _, name := range x.cfg.TopicNames() {
			if x.topics[name].cfg.CanSubscribe(rec.Client) {
				g.Receive = append(g.Receive, SubjectFilter(name))
				g.Streams = append(g.Streams, StreamName(name))
			}
		}
	}
	return g, true
}

var _ engine.Authorizer = (*Exchange)(nil)

// InboxPrefix is an inbox prefix a plain NATS client of client may use
// (nats.CustomInboxPrefix). It is no longer required: every client's
// replies stay in its own account, whatever its inbox prefix.
func InboxPrefix(client string) string { return "_INBOX_" + client }
