package exchange

import (
	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// NATSAuthorize lets plain NATS clients read topics directly, which is what
// large consumers do: a client connects to the engine's client port with
// its stadion API key as the token and gets exactly the rights to read the
// topics it subscribes to (JetStream consumers on their streams, direct
// gets, acks), with replies on its own inbox prefix _INBOX_<client>. It
// cannot list consumers: the names of HTTP subscriptions' consumers are
// secret (see consumerName), which keeps other clients' subscriptions out
// of its reach. It may
// not publish into topics: events only enter through the validating API.
// The admin key gets everything.
func (x *Exchange) NATSAuthorize(token string) (string, *engine.Permissions, bool) {
	rec, err := x.keys.Lookup(token)
	if err != nil {
		return "", nil, false
	}
	if rec.Client == api.AdminClient {
		return rec.Client, nil, true
	}
	return rec.Client, x.natsPermissions(rec.Client), true
}

var _ engine.Authorizer = (*Exchange)(nil)

// InboxPrefix is the inbox prefix a plain NATS client of client must use
// (nats.CustomInboxPrefix).
func InboxPrefix(client string) string { return "_INBOX_" + client }

func (x *Exchange) natsPermissions(client string) *engine.Permissions {
	p := &engine.Permissions{
		Publish:   []string{"$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST"},
		Subscribe: []string{InboxPrefix(client) + ".>"},
	}
	for _, name := range x.cfg.TopicNames() {
		t := x.topics[name]
		if !t.cfg.CanSubscribe(client) {
			continue
		}
		s := StreamName(name)
		p.Publish = append(p.Publish,
			"$JS.API.STREAM.INFO."+s,
			"$JS.API.STREAM.MSG.GET."+s,
			"$JS.API.DIRECT.GET."+s, "$JS.API.DIRECT.GET."+s+".>",
			"$JS.API.CONSUMER.CREATE."+s, "$JS.API.CONSUMER.CREATE."+s+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+s+".>",
			"$JS.API.CONSUMER.INFO."+s+".>", "$JS.API.CONSUMER.DELETE."+s+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+s+".>",
			"$JS.ACK."+s+".>", "$JS.ACK.*.*."+s+".>", "$JS.FC."+s+".>",
		)
		// Core NATS subscribers get live events without JetStream state.
		p.Subscribe = append(p.Subscribe, SubjectFilter(name))
	}
	return p
}
