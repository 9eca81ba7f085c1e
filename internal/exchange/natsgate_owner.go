package exchange

import (
	"context"
	"sort"
	"strings"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// NATSEngine is what the exchange needs of the engine to serve plain NATS
// clients (see internal/engine/clients.go).
type NATSEngine interface {
	SetAuthorizer(engine.Authorizer)
	GrantConsumer(client, stream, consumer string) (int, error)
	RevokeConsumer(client, stream, consumer string)
	ConsumerGrants(client string) []string
	CloseKey(client, id string) int
	PendingResponses() int64
	ClientsCut() uint64
}

var _ NATSEngine = (*engine.Engine)(nil)

// ServeNATS admits plain NATS clients to e's client port: e asks the
// exchange who a key is, the gateway answers their JetStream requests and
// grants them their consumers, and a revoked key's connections are closed
// (on every replica: each follows the keys bucket). Call before Start.
func (x *Exchange) ServeNATS(e NATSEngine) {
	x.natsEng = e
	e.SetAuthorizer(x)
	x.keys.OnRevoke(func(rec api.KeyRecord) { e.CloseKey(rec.Client, rec.ID) })
}

// consumerOwner returns the client whose consumers may bear name: the
// longest configured client name c for which name starts with "c-" ("" for
// none). Ownership is a function of the name alone, so it is the same on
// every replica and a name never changes hands; stadion's own consumers
// on topic streams (sink-<sink>, sub_<hash>, ordered consumers) never have
// such a name, which configuration validation keeps true by reserving the
// client names sink and sink-….
func (x *Exchange) consumerOwner(name string) string {
	for _, c := range x.clientsByLength {
		if strings.HasPrefix(name, c+"-") {
			return c
		}
	}
	return ""
}

// clientNamesByLength lists configured clients, longest first.
func clientNamesByLength(clients []string) []string {
	out := append([]string(nil), clients...)
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// ownedConsumers lists the consumers client owns on its readable streams,
// as "<stream>.<consumer>", asking the engine (another replica may have
// made some).
func (g *natsGate) ownedConsumers(client string) ([]string, error) {
	var out []string
	for _, t := range g.readableTopics(client) {
		ctx, cancel := gateContext()
		names := t.stream.ConsumerNames(ctx)
		for name := range names.Name() {
			if g.x.consumerOwner(name) == client {
				out = append(out, StreamName(t.name)+"."+name)
			}
		}
		err := names.Err()
		cancel()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (g *natsGate) countOwned(client string) (int, error) {
	owned, err := g.ownedConsumers(client)
	return len(owned), err
}

// grant lets client pull from and ack consumer on this replica's engine.
// When the client's account holds too many grants (of consumers since
// deleted, e.g. by their inactivity threshold), those of consumers that
// are gone are revoked first.
func (g *natsGate) grant(client, stream, consumer string) error {
	if _, err := g.eng.GrantConsumer(client, stream, consumer); err == nil {
		return nil
	}
	owned, err := g.ownedConsumers(client)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, k := range owned {
		live[k] = true
	}
	for _, k := range g.eng.ConsumerGrants(client) {
		if !live[k] {
			s, c, _ := strings.Cut(k, ".")
			g.eng.RevokeConsumer(client, s, c)
		}
	}
	_, err = g.eng.GrantConsumer(client, stream, consumer)
	return err
}

// NATSAdmitted grants a client whose account was just made on this
// replica's engine the consumers it owns, so that one made through
// another replica can be pulled here at once.
func (x *Exchange) NATSAdmitted(g engine.Grant) {
	gate := x.gate.Load()
	if gate == nil {
		return
	}
	owned, err := gate.ownedConsumers(g.Client)
	if err != nil {
		x.log.Warn("natsgate: consumers of an admitted client", "client", g.Client, "err", err)
		return
	}
	for _, k := range owned {
		s, c, _ := strings.Cut(k, ".")
		if err := gate.grant(g.Client, s, c); err != nil {
			x.log.Warn("natsgate grant", "client", g.Client, "err", err)
		}
	}
}

func gateContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), gateTimeout)
}
