package engine

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// MaxPendingResponses caps the routes the engine keeps back to client
// inboxes: one per pull request (or gateway request) in flight, each kept
// up to ResponseThreshold. A client flooding pull requests would otherwise
// grow them without end. Once a second the engine counts them; past the
// cap, the client account that sent the most messages in the last second
// has its connections closed, which drops its routes at once.
const MaxPendingResponses = 50_000

// clientLoad watches the pending responses of client accounts.
type clientLoad struct {
	mu      sync.Mutex // one check at a time
	pending atomic.Int64
	cut     atomic.Uint64
	last    map[string]int64 // per account: messages in, at the last tick
}

// watchClientLoad runs until the server shuts down.
func (e *Engine) watchClientLoad() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if e.srv == nil || !e.srv.Running() {
			return
		}
		e.checkClientLoad(MaxPendingResponses)
	}
}

func (e *Engine) checkClientLoad(limit int) {
	e.load.mu.Lock()
	defer e.load.mu.Unlock()
	n := e.srv.GlobalAccount().NumPendingAllResponses()
	e.load.pending.Store(int64(n))
	cz, err := e.srv.Connz(&server.ConnzOptions{Username: true, Limit: e.srv.NumClients() + 64})
	if err != nil {
		return
	}
	in := map[string]int64{}
	for _, c := range cz.Conns {
		if strings.HasPrefix(c.Account, "C_") {
			in[c.Account] += c.InMsgs
		}
	}
	worst, most := "", int64(-1)
	for acc, total := range in {
		if d := total - e.load.last[acc]; d > most {
			worst, most = acc, d
		}
	}
	e.load.last = in
	if n <= limit || worst == "" {
		return
	}
	closed := 0
	for _, c := range cz.Conns {
		if c.Account == worst && e.srv.DisconnectClientByID(c.Cid) == nil {
			closed++
		}
	}
	e.load.cut.Add(1)
	e.log.Warn("nats client account closed: too many requests in flight", "account", worst,
		"pending_responses", n, "limit", limit, "connections", closed)
}

// PendingResponses is how many routes back to client inboxes the engine
// holds (see MaxPendingResponses).
func (e *Engine) PendingResponses() int64 { return e.load.pending.Load() }

// ClientsCut counts the times a client account's connections were closed
// for holding too many pending responses.
func (e *Engine) ClientsCut() uint64 { return e.load.cut.Load() }
