package engine

import (
	"fmt"
	"sync"
	"time"
)

// QuorumGrace is how long a clustered node may go without a write quorum
// before Ready reports it not ready. A meta leader election after a node
// dies takes a few seconds (the engine's election timeouts are 4-9 s, and
// a lost leader is noticed after its missed heartbeats); a load balancer
// that took every node out of rotation for each election would flap, so
// only a quorum lost for longer than this moves traffic away.
const QuorumGrace = 15 * time.Second

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

// watchQuorum samples the cluster's quorum every second until the
// embedded server stops, so that Ready knows how long it has been lost
// however rarely it is asked.
func (e *Engine) watchQuorum() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if e.srv == nil || !e.srv.Running() {
			return
		}
		_, why := e.quorumReasons()
		e.quorum.observe(time.Now(), why)
	}
}

// clusterReady is Ready's answer for a clustered embedded engine: not
// ready once the quorum has been lost for QuorumGrace; ready, without
// asking the engine, while it is lost for less (an election: the engine's
// API does not answer until it ends, and the node will take writes
// again in a moment); and asks the engine when the quorum holds.
func (e *Engine) clusterReady(now time.Time) (decided bool, err error) {
	_, why := e.quorumReasons()
	e.quorum.observe(now, why)
	lost, err := e.quorum.state(now, QuorumGrace)
	return lost, err
}
