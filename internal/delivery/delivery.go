// Package delivery moves events from exchange topics into the systems
// behind them at a pace those systems can take: database sinks (SQLite or
// PostgreSQL) drain a topic through a durable consumer in batches, with a
// rate limit, idempotent upserts, retries with backoff and a dead-letter
// stream per sink for events the database rejects.
//
// How a sink stays exact:
//   - Each sink has one durable pull consumer, sink-<name>, on the topic's
//     stream (explicit ack). Every stadion replica runs it; the engine hands
//     each batch to one of them.
//   - A batch is one transaction of multi-row INSERT ... ON CONFLICT (key)
//     DO UPDATE ... WHERE excluded._seq > table._seq. _seq is the stream
//     sequence of the event that wrote the row, so a redelivery or a replay
//     is a no-op and an older event never overwrites a newer row, whatever
//     order replicas commit in.
//   - Events are acknowledged only after the commit; a crash in between
//     redelivers them (harmless, see above). Nothing is acknowledged before
//     it is in the table or stored as a dead letter.
//   - Transient errors (connection refused, busy/locked, serialization,
//     shutdown) are retried with exponential backoff, forever, keeping the
//     events in progress. A batch the database rejects for its content is
//     split in halves until the rejected events stand alone; each is tried
//     max_attempts times and then dead-lettered, and the rest flow on.
//   - max_rate is for the whole deployment: each process's token bucket
//     allows max_rate divided by the live stadion processes (Options.Peers,
//     the engine's presence count), so N replicas draining a backlog
//     together write about max_rate, never more once the count is current
//     (a process that died is counted for up to 15 s, during which the
//     others write less).
//
// SQLite goes through modernc.org/sqlite (pure Go: one static binary, no
// cgo) and PostgreSQL through pgx's pool; see SQLite and Postgres.
//
// delivery is a capability: internal/server wires it and the sink
// benchmark reads its types; it imports exchange (stream names), api and
// config.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// Options tune a Service beyond the configuration.
type Options struct {
	// DataDir is where relative SQLite paths resolve.
	DataDir string
	// AckWait is how long the engine waits for a sink's acknowledgement
	// before it redelivers (default 1m; sinks signal progress while they
	// retry).
	AckWait time.Duration
	// Peers counts the stadion processes sharing the sinks (the engine's
	// Presence); each takes 1/Count of a sink's max_rate. nil: this
	// process alone.
	Peers Peers
}

// Peers counts the processes that drain the same sinks. Count is at least
// 1; OnChange's f runs on the counter's goroutine and must not block.
type Peers interface {
	Count() int
	OnChange(f func(n int))
}

// Service runs every configured sink.
type Service struct {
	cfg    *config.Config
	js     jetstream.JetStream
	opts   Options
	log    *slog.Logger
	m      *metrics
	sinks  map[string]*sink
	stores map[string]Store
	kv     jetstream.KeyValue

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds the sinks from validated configuration; Start connects them.
func New(cfg *config.Config, js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger, o Options) (*Service, error) {
	if o.AckWait == 0 {
		o.AckWait = time.Minute
	}
	s := &Service{cfg: cfg, js: js, opts: o, log: log.With("service", "delivery"), m: newMetrics(reg),
		sinks: map[string]*sink{}, stores: map[string]Store{}}
	dls := deadletter.New(js, deadletter.Sink, reg, deadletter.Limits{})
	for _, name := range cfg.SinkNames() {
		sc := cfg.Sinks[name]
		var schema []byte
		if t := cfg.Topics[sc.Topic]; t != nil && t.Schema != "" {
			raw, err := cfg.ReadFile(t.Schema)
			if err != nil {
				return nil, fmt.Errorf("sinks.%s: schema of topic %s: %w", name, sc.Topic, err)
			}
			schema = raw
		}
		tbl := tableFor(sc, schema)
		s.sinks[name] = &sink{name: name, cfg: sc, table: tbl, mapper: newRowMapper(tbl, sc), dls: dls, retry: retrySchedule(sc.MaxAttempts),
			limiter: newLimiter(sc), m: s.m.forSink(name), st: newSinkState(), log: s.log.With("sink", name)}
	}
	return s, nil
}

func newLimiter(sc *config.Sink) *rate.Limiter {
	if sc.MaxRate <= 0 {
		return rate.NewLimiter(rate.Inf, sc.Batch.Size)
	}
	return rate.NewLimiter(rate.Limit(sc.MaxRate), max(sc.Batch.Size, int(math.Ceil(float64(sc.MaxRate)))))
}

// share gives each sink with a max_rate its part for n processes. The
// burst never falls under a batch, which WaitN must be able to take.
func (s *Service) share(n int) {
	n = max(n, 1)
	for _, sk := range s.sinks {
		if sk.cfg.MaxRate <= 0 {
			continue
		}
		part := float64(sk.cfg.MaxRate) / float64(n)
		sk.limiter.SetLimit(rate.Limit(part))
		sk.limiter.SetBurst(max(sk.cfg.Batch.Size, int(math.Ceil(part))))
		sk.m.rateShare.Set(part)
	}
}

// Start opens the databases, the dead-letter streams, the durable
// consumers and the shared pause state, and starts draining.
func (s *Service) Start(ctx context.Context) error {
	if len(s.sinks) == 0 {
		return nil
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket, Description: "stadion sink state (paused)", History: 1})
	if err != nil {
		return fmt.Errorf("delivery: state bucket: %w", err)
	}
	s.kv = kv
	for _, name := range s.cfg.SinkNames() {
		if err := s.connect(ctx, name, s.sinks[name]); err != nil {
			return err
		}
	}
	s.share(1)
	if s.opts.Peers != nil {
		s.share(s.opts.Peers.Count())
		s.opts.Peers.OnChange(s.share)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if err := s.followState(runCtx); err != nil {
		return err
	}
	for _, sk := range s.sinks {
		s.wg.Go(func() { sk.run(runCtx) })
	}
	s.log.Info("delivery ready", "sinks", len(s.sinks))
	return nil
}

// connect gives a sink its store, dead-letter stream and consumer.
func (s *Service) connect(ctx context.Context, name string, sk *sink) error {
	store, ok := s.stores[sk.cfg.Database]
	if !ok {
		var err error
		store, err = OpenStore(ctx, s.cfg.Databases[sk.cfg.Database].URL, s.opts.DataDir, s.log)
		if err != nil {
			return fmt.Errorf("databases.%s: %w", sk.cfg.Database, err)
		}
		s.stores[sk.cfg.Database] = store
	}
	sk.store = store
	ensureCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	sk.ensureTable(ensureCtx) // a database that is down is retried by run
	cancel()
	if err := sk.dls.Open(ctx, name, "stadion dead letters of sink "+name, map[string]string{"stadion.sink": name}); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	sk.dlqOpen = true
	var err error
	sk.cons, err = s.js.CreateOrUpdateConsumer(ctx, exchange.StreamName(sk.cfg.Topic), jetstream.ConsumerConfig{
		Durable:       ConsumerName(name),
		Description:   "stadion sink " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: max(1000, maxInFlight*sk.cfg.Batch.Size),
	})
	if err != nil {
		return fmt.Errorf("delivery: consumer of sink %s: %w", name, err)
	}
	return nil
}

// ConsumerName is the durable consumer a sink drains its topic with.
func ConsumerName(sink string) string { return "sink-" + sink }

// Stop ends the sinks: a batch being written is rolled back and handed
// back to the engine (negative ack), so another replica takes it at once.
func (s *Service) Stop(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("delivery: sinks did not stop in time: %w", ctx.Err())
	}
	for _, st := range s.stores {
		err = errors.Join(err, st.Close())
	}
	return err
}
