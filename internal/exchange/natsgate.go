package exchange

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/stadion-dev/stadion/internal/engine"
)

// natsGate answers the JetStream API requests of plain NATS clients that
// involve rights: listing streams and managing consumers. A client lives
// in an account of its own (see internal/engine/clients.go) that reaches
// its readable streams directly and hands INFO, STREAM.NAMES/LIST and
// CONSUMER.CREATE/DURABLE.CREATE/INFO/DELETE to this gateway as
// stadion.jsgw.<client>.<rest>, with a reply subject the engine made. The
// subject names the client (the engine's import wrote it, the client
// cannot), so each request is checked against that client's rights: its
// readable topics' streams, and consumers whose names it owns
// (<client>-…, see consumerOwner), at most
// exchange.nats_consumers_per_client of them. A request that passes is
// made by the gateway itself and the engine's answer is passed on; a
// consumer the client may use is then granted to its account
// (GrantConsumer), which is what lets it pull and ack. Everything else is
// refused with a JetStream API error.
//
// The gateway answers only on a reply that starts with _R_. (one the
// engine made for a request crossing into stadion's account), which leads
// back into the client's own account and nowhere else.
type natsGate struct {
	x   *Exchange
	nc  *nats.Conn
	eng NATSEngine
	max int // consumers per client
	log *slog.Logger
	m   *gateMetrics

	work chan *nats.Msg
	quit chan struct{}
	sub  *nats.Subscription
	wg   sync.WaitGroup

	mu       sync.Mutex
	limits   map[string]*rate.Limiter // per client
	creating map[string]*sync.Mutex   // per client: creates are counted one at a time
}

// Bounds of the gateway.
const (
	gateQueue   = "stadion-natsgate" // one replica handles each request
	gateWorkers = 4                  // requests handled at once per replica
	gateBacklog = 1024               // requests waiting per replica; beyond, refused as busy
	gateRate    = 200                // requests per second per client and replica
	gateBurst   = 400
	gateTimeout = 5 * time.Second // for the gateway's own engine requests
	replyPrefix = "_R_."          // replies the engine makes for imported requests
)

func newNATSGate(x *Exchange, eng NATSEngine) *natsGate {
	return &natsGate{
		x: x, nc: x.nc, eng: eng, max: x.cfg.Exchange.NATSConsumersPerClient,
		log: x.log.With("part", "natsgate"), m: x.gm,
		work: make(chan *nats.Msg, gateBacklog), quit: make(chan struct{}),
		limits: map[string]*rate.Limiter{}, creating: map[string]*sync.Mutex{},
	}
}

func (g *natsGate) start() error {
	sub, err := g.nc.QueueSubscribe(engine.GatewayAPI+".>", gateQueue, g.enqueue)
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(gateBacklog, 64<<20)
	g.sub = sub
	for range gateWorkers {
		g.wg.Add(1)
		go g.worker()
	}
	return nil
}

func (g *natsGate) stop() {
	if g.sub != nil {
		_ = g.sub.Unsubscribe()
	}
	select {
	case <-g.quit:
	default:
		close(g.quit)
	}
	g.wg.Wait()
}

// enqueue runs on the subscription's goroutine: it must not block.
func (g *natsGate) enqueue(m *nats.Msg) {
	select {
	case <-g.quit:
	case g.work <- m:
		g.m.backlog.Set(float64(len(g.work)))
	default:
		g.refuse(m, reasonBusy, errBusy)
	}
}

func (g *natsGate) worker() {
	defer g.wg.Done()
	for {
		select {
		case <-g.quit:
			return
		case m := <-g.work:
			g.m.backlog.Set(float64(len(g.work)))
			g.handle(m)
		}
	}
}

// gateRequest is one request as the gateway reads it.
type gateRequest struct {
	msg    *nats.Msg
	client string
	rest   string // the subject after $JS.API.
}

// parseGateSubject splits stadion.jsgw.<client>.<rest>.
func parseGateSubject(subject string) (client, rest string, ok bool) {
	tail, found := strings.CutPrefix(subject, engine.GatewayAPI+".")
	if !found {
		return "", "", false
	}
	client, rest, ok = strings.Cut(tail, ".")
	return client, rest, ok && client != "" && rest != ""
}

func (g *natsGate) handle(m *nats.Msg) {
	client, rest, ok := parseGateSubject(m.Subject)
	// Answer only on a reply the engine made, which leads back into the
	// client's own account.
	if !ok || !strings.HasPrefix(m.Reply, replyPrefix) {
		g.m.refused.WithLabelValues(reasonReply).Inc()
		return
	}
	req := &gateRequest{msg: m, client: client, rest: rest}
	if !g.limiter(client).Allow() {
		g.refuse(m, reasonRate, errRate)
		return
	}
	g.api(req)
}

func (g *natsGate) limiter(client string) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.limits[client]
	if !ok {
		if len(g.limits) >= 100_000 {
			clear(g.limits)
		}
		l = rate.NewLimiter(gateRate, gateBurst)
		g.limits[client] = l
	}
	return l
}

// createLock serializes the consumer creates of one client on this
// replica, so that two cannot both pass the cap.
func (g *natsGate) createLock(client string) *sync.Mutex {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.creating[client]
	if !ok {
		l = &sync.Mutex{}
		g.creating[client] = l
	}
	return l
}

// call makes a JetStream API request from stadion's connection.
func (g *natsGate) call(subject string, data []byte) (*nats.Msg, error) {
	return g.nc.Request(subject, data, gateTimeout)
}

// pass hands the engine's answer to the client.
func (g *natsGate) pass(req *gateRequest, resp *nats.Msg) {
	if err := g.nc.PublishMsg(&nats.Msg{Subject: req.msg.Reply, Data: resp.Data, Header: resp.Header}); err != nil {
		g.log.Warn("natsgate answer", "err", err)
		return
	}
	g.m.forwarded.WithLabelValues(opLabel(req)).Inc()
}

// apiFailed reports whether a JetStream API answer is an error.
func apiFailed(resp *nats.Msg) bool {
	var r struct {
		Error *json.RawMessage `json:"error"`
	}
	return json.Unmarshal(resp.Data, &r) != nil || r.Error != nil
}

// gateError is a refusal as JetStream words its errors, so that clients
// report it as an API error.
type gateError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code,omitempty"`
	Description string `json:"description"`
}

// Refusals. A stream or consumer the client may not touch is answered as
// not found, so that others' names leak nothing.
var (
	errBusy      = &gateError{Code: 503, Description: "stadion: the JetStream gateway is busy, retry"}
	errRate      = &gateError{Code: 429, Description: "stadion: too many JetStream requests from this client, slow down"}
	errEngine    = &gateError{Code: 503, Description: "stadion: the message engine did not answer"}
	errOp        = &gateError{Code: 403, Description: "stadion: this JetStream request is not available to plain NATS clients"}
	errNoStream  = &gateError{Code: 404, ErrCode: 10059, Description: "stream not found"}
	errNoConsume = &gateError{Code: 404, ErrCode: 10014, Description: "consumer not found"}
)

// Refusal reasons (the metric's label), besides reasonEngine and
// reasonMalformed of metrics.go.
const (
	reasonReply    = "reply"
	reasonBusy     = "busy"
	reasonRate     = "rate"
	reasonOp       = "operation"
	reasonStream   = "stream"
	reasonConsumer = "consumer"
	reasonName     = "name"
	reasonConfig   = "config"
	reasonCap      = "cap"
)

// refuse answers m with e when it has a reply the engine made.
func (g *natsGate) refuse(m *nats.Msg, reason string, e *gateError) {
	g.m.refused.WithLabelValues(reason).Inc()
	if !strings.HasPrefix(m.Reply, replyPrefix) {
		return
	}
	data, _ := json.Marshal(struct {
		Type  string     `json:"type"`
		Error *gateError `json:"error"`
	}{"io.nats.jetstream.api.v1.error", e})
	if err := g.nc.Publish(m.Reply, data); err != nil {
		g.log.Warn("natsgate refuse", "err", err)
	}
}
