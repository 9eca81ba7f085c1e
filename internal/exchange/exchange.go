// Package exchange is stadion's data exchange (the DES of the Games): every
// source publishes through one API; events are checked against the topic's
// schema and the client's rights, wrapped in CloudEvents envelopes and
// stored durably in JetStream; consumers read by sequence or time, follow
// with SSE, take a snapshot of sync topics, or share durable subscriptions.
//
// Capabilities talk to each other through exchange topics; they may import
// exchange, and exchange imports only the packages below it: ops, the
// dead-letter store (deadletter), engine, api, config and loop.
package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/loop"
)

// Exchange serves topics and subscriptions.
type Exchange struct {
	cfg  *config.Config
	nc   *nats.Conn
	js   jetstream.JetStream
	keys *api.Keys
	log  *slog.Logger
	m    *metrics
	cm   *commitMetrics
	sm   *subMetrics
	gm   *gateMetrics
	gate atomic.Pointer[natsGate] // plain NATS clients' JetStream requests; set by Start
	// natsEng is the engine plain NATS clients connect to (ServeNATS);
	// nil when they cannot (external engine in tests).
	natsEng NATSEngine
	// clientsByLength are the configured clients, longest name first.
	clientsByLength []string
	topics          map[string]*topic
	subs            jetstream.KeyValue
	// failures keeps the last error of events being retried.
	failures jetstream.KeyValue
	// dls is the subscriptions' dead letters; watch dead-letters what
	// their consumers give up (deadletter_watch.go).
	dls   *deadletter.Store
	watch *deadletter.Watcher
	// consumerKey makes subscriptions' consumer names unguessable.
	consumerKey []byte

	// draining ends with Drain: open streams end.
	draining context.Context
	drain    context.CancelFunc
	// streams caps and accounts for SSE streams, snapshots and long pulls.
	streams *api.Streams

	// processes counts the stadion processes sharing push subscriptions
	// (nil: this one alone); see CountProcesses.
	processes atomic.Pointer[Counter]

	// stopPush ends the push workers; pushDone is closed once they are.
	stopPush context.CancelFunc
	pushDone chan struct{}
	// watchDone is closed once the dead-letter watcher has stopped (with stopPush).
	watchDone chan struct{}
}

// New builds the exchange from validated configuration, compiling every
// topic's schema (an invalid schema is an error naming the topic).
func New(cfg *config.Config, nc *nats.Conn, js jetstream.JetStream, keys *api.Keys, reg prometheus.Registerer, log *slog.Logger) (*Exchange, error) {
	x := &Exchange{
		cfg: cfg, nc: nc, js: js, keys: keys,
		log:     log.With("service", "exchange"),
		m:       newMetrics(reg),
		cm:      newCommitMetrics(reg),
		topics:  map[string]*topic{},
		streams: api.NewStreams(cfg.Exchange.StreamsPerClient, cfg.Exchange.StreamStall.D(), reg, "sse", "snapshot", "pull", "console"),
	}
	x.draining, x.drain = context.WithCancel(context.Background())
	x.sm = newSubMetrics(reg, x)
	x.dls = deadletter.New(js, deadletter.Sub, reg, deadletter.Limits{})
	x.watch = deadletter.NewWatcher(js, x.log, reg, x.handleGivenUp)
	x.gm = newGateMetrics(reg, x)
	x.clientsByLength = clientNamesByLength(slices.Collect(maps.Keys(cfg.Clients)))
	var errs []error
	for _, name := range cfg.TopicNames() {
		t := &topic{name: name, cfg: cfg.Topics[name]}
		if t.cfg.Schema != "" {
			raw, err := cfg.ReadFile(t.cfg.Schema)
			if err == nil {
				t.schema, err = CompileSchema(name, raw)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("topics.%s.schema: %w", name, err))
			}
		}
		x.topics[name] = t
	}
	return x, errors.Join(errs...)
}

// Start creates or updates the stream of every topic and the
// subscriptions bucket.
func (x *Exchange) Start(ctx context.Context) error {
	for _, name := range x.cfg.TopicNames() {
		t := x.topics[name]
		sc := streamConfig(name, t.cfg, x.cfg.Exchange.DedupeWindow.D(), x.maxEvent())
		s, err := x.js.CreateOrUpdateStream(ctx, sc)
		if err != nil {
			return fmt.Errorf("exchange: topic %s: %w", name, err)
		}
		t.stream = s
		if x.groupCommits(s) {
			t.commit = newGroupCommit(x.nc, x.js, name, x.cm)
		}
	}
	kv, err := x.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: subsBucket, Description: "stadion durable subscriptions", History: 1,
	})
	if err != nil {
		return fmt.Errorf("exchange: subscriptions bucket: %w", err)
	}
	x.subs = kv
	if x.consumerKey, err = loadSecret(ctx, kv); err != nil {
		return fmt.Errorf("exchange: subscriptions secret: %w", err)
	}
	if x.failures, err = openFailures(ctx, x.js); err != nil {
		return fmt.Errorf("exchange: failures bucket: %w", err)
	}
	if x.natsEng != nil {
		g := newNATSGate(x, x.natsEng)
		if err := g.start(); err != nil {
			return fmt.Errorf("exchange: nats gateway: %w", err)
		}
		x.gate.Store(g)
	}
	advisories, err := x.watch.Open(ctx)
	if err != nil {
		return fmt.Errorf("exchange: dead-letter advisories: %w", err)
	}
	x.limitDeliveries(ctx)
	pctx, stop := context.WithCancel(context.Background())
	x.stopPush, x.pushDone = stop, make(chan struct{})
	go func() {
		defer close(x.pushDone)
		(&pushers{x: x, running: map[string]runningPusher{}}).follow(pctx)
	}()
	x.watchDone = make(chan struct{})
	go func() {
		defer close(x.watchDone)
		var wg sync.WaitGroup
		wg.Go(func() { loop.Every(pctx, sweepEvery, func() { x.sweep(pctx) }) })
		wg.Go(func() {
			if err := x.watch.RunLive(pctx, x.nc); err != nil {
				x.log.Warn("dead-letter advisories are not watched live; the stream still keeps them", "err", err)
			}
		})
		x.watch.Run(pctx, advisories)
		wg.Wait()
	}()
	x.log.Info("exchange ready", "topics", len(x.topics))
	return nil
}

// Streams is the cap on long-lived responses that every client's SSE
// streams, snapshots and long pulls count against; the console's feed
// counts against it too.
func (x *Exchange) Streams() *api.Streams { return x.streams }

// Drain ends open SSE streams, so that the HTTP server's graceful shutdown
// is not held up by followers that would never leave on their own. Clients
// reconnect (to another replica) with Last-Event-ID and miss nothing.
func (x *Exchange) Drain() { x.drain() }

// openStream admits a long-lived response of kind for the caller of r (see
// api.Streams); it also ends when the exchange drains. The caller closes it.
func (x *Exchange) openStream(w http.ResponseWriter, r *http.Request, kind string) (*api.Stream, error) {
	st, err := x.streams.Open(w, r, kind)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(x.draining, st.Close)
	context.AfterFunc(st.Context(), func() { stop() })
	return st, nil
}

// Stop ends the plain-NATS gateway and the push workers, waiting (up to ctx) for their calls in
// flight. In-flight requests finish with the HTTP server's drain, and all
// other state is in the engine.
func (x *Exchange) Stop(ctx context.Context) error {
	if g := x.gate.Load(); g != nil {
		g.stop()
	}
	for _, t := range x.topics {
		if t.commit != nil {
			t.commit.close()
		}
	}
	if x.stopPush == nil {
		return nil
	}
	x.stopPush()
	for _, done := range []chan struct{}{x.pushDone, x.watchDone} {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("exchange: push workers and dead-letter watcher: %w", ctx.Err())
		}
	}
	return nil
}

// Routes registers the exchange's HTTP API on mux; auth wraps every route
// with key authentication.
func (x *Exchange) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, auth(api.HandlerFunc(h)))
	}
	handle("POST /v1/topics/{topic}/events", x.handlePublish)
	handle("GET /v1/topics/{topic}/events", x.handleEvents)
	handle("GET /v1/topics/{topic}/stream", x.handleStream)
	handle("GET /v1/topics/{topic}/snapshot", x.handleSnapshot)
	handle("GET /v1/topics/{topic}/schema", x.handleSchema)
	handle("GET /v1/topics/{topic}", x.handleTopic)
	handle("GET /v1/topics", x.handleTopics)
	handle("PUT /v1/subscriptions/{name}", x.handlePutSubscription)
	handle("GET /v1/subscriptions/{name}", x.handleGetSubscription)
	handle("DELETE /v1/subscriptions/{name}", x.handleDeleteSubscription)
	handle("GET /v1/subscriptions", x.handleListSubscriptions)
	handle("POST /v1/subscriptions/{name}/pull", x.handlePull)
	handle("POST /v1/subscriptions/{name}/ack", x.handleAck)
	handle("POST /v1/subscriptions/{name}/nack", x.handleNack)
	handle("GET /v1/subscriptions/{name}/dead-letters", x.handleDeadLetters)
	handle("POST /v1/subscriptions/{name}/dead-letters/redrive", x.handleRedrive)
	handle("DELETE /v1/subscriptions/{name}/dead-letters", x.handleDiscardDeadLetters)
}

// lookup returns the topic named in the path, or a 404 problem.
func (x *Exchange) lookup(r *http.Request) (*topic, error) {
	name := r.PathValue("topic")
	t, ok := x.topics[name]
	if !ok {
		return nil, api.NotFound(fmt.Sprintf("there is no topic %q", name))
	}
	return t, nil
}

// readable returns the topic named in the path if the caller may read it.
func (x *Exchange) readable(r *http.Request) (*topic, error) {
	t, err := x.lookup(r)
	if err != nil {
		return nil, err
	}
	p, _ := api.PrincipalFrom(r.Context())
	if !t.cfg.CanSubscribe(p.Client) {
		return nil, api.Forbidden(fmt.Sprintf("client %q is not a subscriber of topic %q", p.Client, t.name))
	}
	return t, nil
}

// ended is the answer to a waiting request whose stream ended before the
// request did: the key was revoked, or the server is draining.
func ended(r *http.Request) error {
	if p, _ := api.PrincipalFrom(r.Context()); p.Revoked != nil && p.Revoked.Err() != nil {
		return api.Unauthorized("the API key was revoked while the request waited")
	}
	return api.Unavailable("the server is shutting down; retry (on another replica)")
}

// engineErr maps an engine failure to 503 (context ends pass through).
func engineErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return api.Unavailable("the message engine did not answer: " + err.Error())
}
