// Package capture takes thumbnails from live video: capture jobs (from
// stadion.yaml and the API), a scheduler whose ticks every stadion process
// publishes and the engine deduplicates, workers that run ffmpeg on them
// with a timeout, bounded concurrency and retries, a frame store in the
// engine's object store, event triggers from exchange topics, and per-job
// status. It imports exchange, api and config; internal/server wires it
// and the capture benchmark (internal/bench/capture) reads its types.
//
// Exactly-once ticks: every process's scheduler publishes each tick to the
// CAPTURE_TICKS work-queue stream with a Nats-Msg-Id made of the job and the
// tick time, so the engine keeps one copy; all processes pull from one
// durable consumer, a worker reports progress while ffmpeg runs, and a tick
// whose worker died is redelivered to another after ack_wait.
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/exchange"
)

// Announcer publishes thumbnail events into the exchange: the exchange's
// two-method Publisher, which gate's admissions use too.
type Announcer = exchange.Publisher

// Options build a Service.
type Options struct {
	Config   *config.Config
	JS       jetstream.JetStream
	Announce Announcer // nil: frames are not announced
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Service is the capture capability of one stadion process: scheduler,
// event triggers and workers, and the HTTP API.
type Service struct {
	cfg    *config.Config
	cc     *config.Capture
	js     jetstream.JetStream
	ann    Announcer
	log    *slog.Logger
	m      *metrics
	ffmpeg string // resolved path; "" when not found

	jobs   *registry
	ticks  *ticks
	frames *frameStore
	status *statusStore

	// What jobs may reach: the relay ffmpeg reads HTTP sources from, and
	// the fetchers of API jobs (capture.allow) and of the file's jobs.
	relay     *relay
	apiFetch  *fetcher
	fileFetch *fetcher

	warm *warmPool // long-lived ffmpeg per scheduled job (warm.go)

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ErrNoFFmpeg means the ffmpeg binary was not found.
var ErrNoFFmpeg = errors.New("ffmpeg not found")

// New checks the configuration and ffmpeg. ffmpeg missing is an error only
// when jobs are configured; without it, jobs added later are refused.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{
		cfg: o.Config, cc: &o.Config.Capture, js: o.JS, ann: o.Announce,
		log: o.Logger.With("service", "capture"),
	}
	path, err := exec.LookPath(s.cc.FFmpeg)
	switch {
	case err == nil:
		s.ffmpeg = path
	case len(s.cc.Jobs) > 0:
		return nil, fmt.Errorf("capture.ffmpeg: %w: %q (install ffmpeg, e.g. apt-get install ffmpeg, or set capture.ffmpeg to its path): %v", ErrNoFFmpeg, s.cc.FFmpeg, err)
	default:
		s.log.Warn("ffmpeg not found: capture jobs cannot be added until it is installed", "ffmpeg", s.cc.FFmpeg)
	}
	if s.ann != nil && !s.ann.HasTopic(s.cc.Topic) {
		s.log.Info("frames are not announced: no topic in the configuration", "topic", s.cc.Topic)
		s.ann = nil
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	s.m = newMetrics(o.Registry)
	s.apiFetch = newFetcher(newReach(s.cc.Allow, false))
	s.fileFetch = newFetcher(newReach(nil, true))
	s.apiFetch.m, s.fileFetch.m = s.m, s.m
	return s, nil
}

// Start creates the streams and buckets and starts the scheduler, the
// triggers and the workers.
func (s *Service) Start(ctx context.Context) (err error) {
	if s.relay, err = startRelay(s.m); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.relay.close()
		}
	}()
	if s.status, err = openStatus(ctx, s.js); err != nil {
		return err
	}
	if s.ticks, err = openTicks(ctx, s.js, s.cc.AckWait.D()); err != nil {
		return err
	}
	s.frames = newFrameStore(s.js)
	s.jobs = newRegistry(s.cc, s.log)
	if err := s.jobs.open(ctx, s.js); err != nil {
		return err
	}
	run, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.spawn(func() { s.jobs.follow(run) })
	s.spawn(func() { s.schedule(run) })
	s.spawn(func() { s.triggers(run) })
	s.warm = newWarmPool(s, s.cc.WarmProcesses())
	s.spawn(func() { s.work(run) })
	s.spawn(func() { s.reapWarm(run) })
	return nil
}

func (s *Service) spawn(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// Stop ends the scheduler and workers; a capture in flight is killed and
// its tick handed back for another worker.
func (s *Service) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.warm.stopAll(ctx); s.relay.close(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("capture: stop: %w", ctx.Err())
	}
}
