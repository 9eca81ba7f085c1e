package deadletter

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// The engine (nats-server 2.15) decides that an event has had its last
// delivery only when it looks for the next event to hand out, that is when
// a pull request is waiting: an expired last attempt sits on the
// consumer's redelivery queue until someone pulls, and the max-deliveries
// advisory waits with it (its ack-timeout check counts one delivery short
// and lets the event through; measured in TestNudgeGivesUpWithoutHandingOut). Nudge is
// that pull without the hand-out: a request for one event of at most one
// byte, answered at once. The engine walks its redelivery queue (giving up
// and announcing what is past its limit) and then refuses the event that
// would come next, since none fits in one byte, putting it back as it was,
// without counting a delivery.

// Nudge (counted as advisories_total{result="nudge"}) makes the engine give up, and announce, what consumer of stream
// has past its last attempt, without handing anything out. It does not
// work on a consumer with a priority group (a pull must name the group);
// those are pulled all the time by their pushers anyway.
func (w *Watcher) Nudge(ctx context.Context, nc *nats.Conn, stream, consumer string) error {
	w.results.WithLabelValues("nudge").Inc()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := nc.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT."+stream+"."+consumer,
		[]byte(`{"batch":1,"max_bytes":1,"no_wait":true}`))
	return err
}
