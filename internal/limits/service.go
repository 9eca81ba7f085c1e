package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

// Options are what the server passes in.
type Options struct {
	// Peers counts the live stadion processes (cluster-scoped limits and
	// how many answers to wait for when asking every process).
	Peers  func() int
	Logger *slog.Logger
}

// Service keeps this process's limits in step with the bucket and serves
// /v1/limits and /v1/plans.
type Service struct {
	cfg  *config.Config
	nc   *nats.Conn
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	pkv  jetstream.KeyValue // plan applications
	lm   *Limiter
	log  *slog.Logger
	opts Options

	mu         sync.Mutex
	recs       map[string]entry
	nextExpiry time.Time
	dirty      chan struct{}
	installMu  sync.Mutex

	cancel context.CancelFunc
	wg     sync.WaitGroup
	subs   []*nats.Subscription
}

// New checks the configuration's plans and builds the service.
func New(cfg *config.Config, nc *nats.Conn, js jetstream.JetStream, reg prometheus.Registerer, o Options) (*Service, error) {
	if err := CheckPlans(cfg); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Peers == nil {
		o.Peers = func() int { return 1 }
	}
	return &Service{
		cfg: cfg, nc: nc, js: js, opts: o, log: o.Logger.With("service", "limits"),
		lm: NewLimiter(reg, o.Peers), recs: map[string]entry{}, dirty: make(chan struct{}, 1),
	}, nil
}

// CheckPlans compiles every plan's limits, naming the field of a problem.
func CheckPlans(cfg *config.Config) error {
	var errs []error
	for pname, p := range cfg.Plans {
		for lname, sp := range p.Limits {
			if sp == nil {
				continue // config reports it
			}
			if _, err := Normalize(*sp, time.Now()); err != nil {
				errs = append(errs, fmt.Errorf("plans.%s.limits.%s.%w", pname, lname, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Limiter is the process's limiter (for the middleware and MQTT hooks).
func (s *Service) Limiter() *Limiter { return s.lm }

// Start opens the buckets, loads the limits in force and follows changes.
func (s *Service) Start(ctx context.Context) error {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "stadion runtime limits", History: 1,
	})
	if err != nil {
		return fmt.Errorf("limits: open bucket: %w", err)
	}
	pkv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: PlansBucket, Description: "stadion emergency plan applications (who, when)", History: 64,
	})
	if err != nil {
		return fmt.Errorf("limits: open plans bucket: %w", err)
	}
	s.kv, s.pkv = kv, pkv
	run, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	done, err := s.follow(run)
	if err != nil {
		cancel()
		return err
	}
	s.install(ctx)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); <-done }()
	go func() { defer s.wg.Done(); s.installLoop(run) }()
	return s.answer()
}

// Stop ends the watch and the loops.
func (s *Service) Stop(ctx context.Context) error {
	for _, sub := range s.subs {
		sub.Unsubscribe()
	}
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
