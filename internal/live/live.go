// Package live is stadion's live-comment capability: MQTT (and MQTT over
// WebSocket) rooms where viewers watch `live/{room}/comments` and post to
// `live/{room}/post`, a moderation pipeline that any number of workers
// share through a durable consumer, viewer tokens, history for late
// joiners, room statistics, and the bridge that republishes exchange
// topics to MQTT for screens.
//
// Data flow: a post enters through MQTT or HTTP in any process; the
// process's ingress batches posts into the LIVE_POSTS work queue (one
// engine write per batch); moderation workers take batches, check each
// post and write the accepted comments of each room as one message to
// LIVE_COMMENTS (deduplicated by batch, so a worker dying mid-batch loses
// or doubles nothing); the stream republishes each message it stored to
// the room's topic subject, and every process with viewers of a room
// follows that subject and fans the comments out to its connections (so
// viewers get only what was stored, once, in stream order).
//
// live imports mqtt, live/wordfilter, api, config and the engine; only
// internal/server imports live.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/loop"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// Options are the process-level settings of the live capability.
type Options struct {
	// MQTTAddr is the MQTT listener's address; "" serves MQTT only over
	// WebSocket.
	MQTTAddr string
	// ConfigDir is the directory of the configuration file, for re-reading
	// banned_words_file; ReloadConfig re-reads the whole file (nil: the
	// word list is fixed).
	ReloadConfig func() (*config.Config, error)
	Logger       *slog.Logger
	// Limits refuses CONNECTs and drops posts the runtime limits refuse
	// (nil: none).
	Limits Limits
	// BridgeMaxPending caps the distinct bridged retained topics waiting
	// to be stored (0: 10,000); tests set it low.
	BridgeMaxPending int
}

// Service runs live comments in one process.
type Service struct {
	cfg  *config.Config
	opts Options
	nc   *nats.Conn
	js   jetstream.JetStream
	keys *api.Keys
	log  *slog.Logger
	m    *metrics
	id   string // this process, in stats and reply subjects

	tokens   *tokens
	policy   policyHolder
	rooms    *roomStates
	retained *retained
	sessions jetstream.KeyValue
	bucket   jetstream.KeyValue
	comments jetstream.Stream

	mqtt    *mqtt.Server
	fan     *fanout
	revoked *revocations
	ln      net.Listener
	ingress *ingress
	replies *replies
	board   *board
	limits  *limiter
	retries *retries
	bridge  *bridge

	mu      sync.Mutex
	watched map[string]*nats.Subscription // MQTT filter → engine subscription

	drops dropRate // slow-viewer drops between health evaluations (checks.go)

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New builds the live capability from validated configuration.
func New(cfg *config.Config, nc *nats.Conn, js jetstream.JetStream, keys *api.Keys, reg prometheus.Registerer, o Options) (*Service, error) {
	if !cfg.Live.Enabled() {
		return nil, errors.New("live: no rooms configured")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg: cfg, opts: o, nc: nc, js: js, keys: keys,
		log:     o.Logger.With("service", "live"),
		id:      nuid.Next(),
		watched: map[string]*nats.Subscription{},
	}
	s.m = newMetrics(reg, s)
	s.bridge = newBridge(s)
	p, err := newPolicy(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.policy.Store(p)
	s.fan = newFanout()
	s.mqtt = mqtt.NewServer(hooks{s}, mqttOptions(cfg.Live, s.log))
	return s, nil
}

// mqttOptions are the MQTT server's bounds from the live configuration.
func mqttOptions(l config.Live, log *slog.Logger) mqtt.Options {
	m := l.MQTT
	return mqtt.Options{
		MaxPacket:               int(l.MaxPacket),
		MaxConnections:          m.MaxConnections,
		PacketTimeout:           m.PacketTimeout.D(),
		IdleTimeout:             m.IdleTimeout.D(),
		MaxSubscriptions:        m.MaxSubscriptions,
		MaxSessionSubscriptions: m.MaxSessionSubscriptions,
		MaxOwnerSessions:        m.MaxSessionsPerUser,
		MaxAnonymousSessions:    m.MaxAnonymousSessions,
		SessionExpiry:           m.SessionExpiry.D(),
		MaxOfflineMessages:      m.MaxOfflineMessages,
		MaxOfflineBytes:         int(m.MaxOfflineBytes),
		Logger:                  log,
	}
}

// Start creates the streams and buckets, then serves MQTT and runs the
// moderation workers, the bridge and the statistics board.
func (s *Service) Start(ctx context.Context) error {
	if err := s.openStorage(ctx); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.ingress = newIngress(s.js, s.log)
	s.replies = newReplies(s.nc, s.id)
	if err := s.replies.start(); err != nil {
		return err
	}
	s.board = newBoard(s)
	if err := s.board.start(); err != nil {
		return err
	}
	s.fan.run(bg, s.run, s.deliver)
	s.keys.OnRevoke(func(rec api.KeyRecord) { s.mqtt.Revoke(keyOwner(rec.ID)) })
	s.run(func() { loop.Every(bg, time.Minute, s.revoked.prune) })
	s.run(func() { s.ingress.run(bg) })
	s.run(func() { s.board.run(bg) })
	s.run(func() { s.watchReload(bg) })
	if err := s.startWorkers(ctx, bg); err != nil {
		return err
	}
	if err := s.bridge.start(s); err != nil {
		return err
	}
	if err := s.followClaims(); err != nil {
		return err
	}
	if s.opts.MQTTAddr != "" {
		ln, err := net.Listen("tcp", s.opts.MQTTAddr)
		if err != nil {
			return fmt.Errorf("--mqtt %s: %w (is another MQTT broker listening there? pick another address with --mqtt, or --mqtt '' for WebSocket only)", s.opts.MQTTAddr, err)
		}
		s.ln = ln
		s.run(func() {
			if err := s.mqtt.Serve(ln); err != nil {
				s.log.Error("mqtt listener stopped", "err", err)
			}
		})
	}
	return nil
}

func (s *Service) run(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// MQTTAddr is the MQTT listener's address, once started ("" when off).
func (s *Service) MQTTAddr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop disconnects every viewer, flushes the ingress and the bridge's
// pending retained messages, and stops the workers.
func (s *Service) Stop(ctx context.Context) error {
	var errs []error
	errs = append(errs, s.mqtt.Close(ctx))
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(bridgeWriteTimeout)
	}
	s.bridge.stop(deadline)
	if s.stop != nil {
		s.stop()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("live: workers did not stop: %w", ctx.Err()))
	}
	s.mu.Lock()
	for f, sub := range s.watched {
		sub.Unsubscribe()
		delete(s.watched, f)
	}
	s.mu.Unlock()
	if s.replies != nil {
		s.replies.stop()
	}
	if s.board != nil {
		s.board.stopSubs()
	}
	if s.retained != nil {
		s.retained.close()
	}
	if s.revoked != nil {
		s.revoked.close()
	}
	if s.rooms != nil {
		s.rooms.close()
	}
	return errors.Join(errs...)
}
