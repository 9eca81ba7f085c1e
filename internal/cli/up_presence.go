package cli

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/stadion-dev/stadion/internal/engine"
)

// presence registers this `stadion up` in the engine's presence bucket for
// as long as it runs, so that limits meant for the whole deployment (a
// sink's max_rate, a webhook's max_in_flight) are divided among the live
// processes. It starts before the services that count on it and stops
// after them.
type presence struct {
	js  jetstream.JetStream
	log *slog.Logger
	p   *engine.Presence
}

func (p *presence) Start(ctx context.Context) (err error) {
	p.p, err = engine.JoinPresence(ctx, p.js, nuid.Next(), p.log)
	return err
}

func (p *presence) Stop(ctx context.Context) error {
	if p.p == nil {
		return nil
	}
	return p.p.Leave(ctx)
}

// Count is the number of live processes (1 before Start).
func (p *presence) Count() int {
	if p.p == nil {
		return 1
	}
	return p.p.Count()
}

// OnChange calls f whenever the count changes (after Start).
func (p *presence) OnChange(f func(n int)) { p.p.OnChange(f) }
