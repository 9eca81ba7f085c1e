package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// QuorumGrace is how long a clustered node may go without a write quorum
// before Ready reports it not ready. A meta leader election after a node
// dies takes a few seconds (followers wait a random 4-9 s without the
// leader's heartbeat before they vote, again after a split vote); a load balancer
// that took every node out of rotation for each election would flap, so
// only a quorum lost for longer than this moves traffic away.
const QuorumGrace = 20 * time.Second

// quorumWatch remembers since when this node has seen the cluster without
// a write quorum, sampled every second and on every readiness check.
type quorumWatch struct {
	mu    sync.Mutex
	since time.Time // first seen lost; zero while the quorum holds
	why   string    // the last reason seen (without the nodes' names: /readyz is open)
}

// observe records what QuorumReason said at now.
func (w *quorumWatch) observe(now time.Time, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.why = why
	switch {
	case why == "":
		w.since = time.Time{}
	case w.since.IsZero():
		w.since = now
	}
}

// state says whether the quorum is lost at now and, when it has been lost
// for grace or longer, the error Ready returns.
func (w *quorumWatch) state(now time.Time, grace time.Duration) (lost bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		return false, nil
	}
	if d := now.Sub(w.since); d >= grace {
		return true, fmt.Errorf("%w: %s, for %s; send traffic to a node of the majority",
			ErrUnavailable, w.why, d.Truncate(time.Second))
	}
	return true, nil
}

// watchQuorum samples every second, until the embedded server stops,
// whether this node can take writes: a meta leader and a majority of
// nodes reachable, and the engine's API answering (only the meta leader
// answers it: a leader that died without a word still looks elected for
// the followers' election timeout). Ready reads what it found, so a
// readiness probe never waits on the engine.
func (e *Engine) watchQuorum() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if e.srv == nil || !e.srv.Running() {
			return
		}
		_, why := e.quorumReasons()
		if why == "" {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if _, err := e.JS.AccountInfo(ctx); err != nil {
				why = fmt.Sprintf("the engine's cluster does not answer (%v)", err)
			}
			cancel()
		}
		e.quorum.observe(time.Now(), why)
	}
}
