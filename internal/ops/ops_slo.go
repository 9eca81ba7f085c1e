package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// SLOOptions build the SLO, alert and anomaly side of ops.
type SLOOptions struct {
	Config *config.Config
	JS     jetstream.JetStream
	// Conn receives the engine's advisories ($JS.EVENT.ADVISORY.>); nil:
	// none are mined.
	Conn *nats.Conn
	// Gatherer is this process's registry: SLO indicators read it.
	Gatherer prometheus.Gatherer
	Registry prometheus.Registerer
	// Feed carries this process's logs (a LogTee's); nil: none are mined.
	Feed *LogFeed
	// Publish stores an alert in the exchange topic alerts.topic
	// (exchange.Exchange.Publish, adapted); nil: no topic.
	Publish func(ctx context.Context, topic string, data []byte, dedupeID string) error
	Site    string // "cloud" (default) or the edge's venue
	Logger  *slog.Logger
}

// SLOService runs SLO evaluation, the shared alert state with its
// receivers, and the anomaly miner; it serves /v1/slos, /v1/alerts and
// /v1/anomalies.
type SLOService struct {
	o         SLOOptions
	alerts    *AlertStore
	receivers []*receiver
	slos      *SLOs
	anomalies *Anomalies
	share     *anomalyShare // nil: the bucket could not be opened; this process's classes only
	m         *alertMetrics

	cancel context.CancelFunc
	wg     sync.WaitGroup
	sub    *nats.Subscription
}

// NewSLOService builds the service; Start opens its buckets.
func NewSLOService(o SLOOptions) (*SLOService, error) {
	if o.Site == "" {
		o.Site = "cloud"
	}
	o.Logger = o.Logger.With("service", "ops")
	s := &SLOService{o: o, m: newAlertMetrics(o.Registry)}
	a := o.Config.Alerts
	for _, name := range sloSortedNames(a.Receivers) {
		r, err := newReceiver(name, a.Receivers[name], strings.TrimRight(a.ExternalURL, "/"), o.JS, s.m, o.Logger)
		if err != nil {
			return nil, err
		}
		s.receivers = append(s.receivers, r)
	}
	return s, nil
}

// Alerter is where other parts of ops (health checks) fire and resolve
// alerts. Valid after Start.
func (s *SLOService) Alerter() Alerter { return s.alerts }

// SLOs is the SLO evaluator (Budgets for the inspection). Valid after Start.
func (s *SLOService) SLOs() *SLOs { return s.slos }

// Start opens the alerts and SLO buckets and starts the loops.
func (s *SLOService) Start(ctx context.Context) error {
	store, err := OpenAlertStore(ctx, s.o.JS, 1, s.m, s.o.Logger)
	if err != nil {
		return fmt.Errorf("alerts bucket: %w", err)
	}
	if len(s.receivers) > 0 {
		if err := ensureNotifyStream(ctx, s.o.JS, s.o.Config.Alerts.MaxQueued, 1); err != nil {
			return fmt.Errorf("alert notifications stream: %w", err)
		}
	}
	s.alerts = store
	store.notify = s.notify
	if s.slos, err = NewSLOs(ctx, s.o.Config, s.o.JS, s.o.Gatherer, store, s.o.Registry, s.o.Logger); err != nil {
		return err
	}
	s.anomalies = NewAnomalies(s.o.Config.Anomalies, s.o.Site, store, s.o.Registry)
	run, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan struct{})
	s.goRun(func() { store.run(run, ready) })
	select {
	case <-ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, r := range s.receivers {
		s.goRun(func() { r.run(run) })
	}
	s.goRun(func() { s.slos.Run(run) })
	if s.o.Feed != nil {
		s.goRun(func() { s.anomalies.Run(run, s.o.Feed) })
	}
	if s.share, err = openAnomalyShare(ctx, s.o.JS, s.o.Registry, s.o.Logger); err != nil {
		return fmt.Errorf("anomalies bucket: %w", err)
	}
	s.goRun(func() { s.share.run(run, s.anomalies.Classes) })
	if s.o.Conn != nil {
		if err := s.watchAdvisories(); err != nil {
			return fmt.Errorf("engine advisories: %w", err)
		}
	}
	return nil
}

func (s *SLOService) goRun(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// Stop ends the loops within ctx's deadline.
func (s *SLOService) Stop(ctx context.Context) error {
	if s.sub != nil {
		s.sub.Unsubscribe()
	}
	if s.cancel != nil {
		s.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("ops: loops did not stop in time")
	}
}

// notify hands a transition this replica won to every receiver and the
// alerts topic.
func (s *SLOService) notify(st AlertState) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range s.receivers {
		r.enqueue(ctx, st)
	}
	topic := s.o.Config.Alerts.Topic
	if topic == "" || s.o.Publish == nil {
		return
	}
	raw, _ := json.Marshal(st)
	dedupe := "alert:" + Fingerprint(st.ID) + ":" + st.Status + ":" + st.UpdatedAt.Format(time.RFC3339Nano)
	if err := s.o.Publish(ctx, topic, raw, dedupe); err != nil {
		s.o.Logger.Warn("alerts: cannot publish to the alerts topic", "topic", topic, "alert", st.ID, "err", err)
	}
}

// watchAdvisories feeds the engine's advisories to the miner as lines of
// component "engine". API audit advisories (one per JetStream request)
// are left out. At most 4096 wait; the rest are dropped by the client.
func (s *SLOService) watchAdvisories() error {
	sub, err := s.o.Conn.Subscribe("$JS.EVENT.ADVISORY.>", func(m *nats.Msg) {
		if strings.HasPrefix(m.Subject, "$JS.EVENT.ADVISORY.API") {
			return
		}
		s.o.Feed.Offer(advisoryLine(m.Subject, time.Now()))
	})
	if err != nil {
		return err
	}
	if err := sub.SetPendingLimits(4096, 4<<20); err != nil {
		sub.Unsubscribe()
		return err
	}
	s.sub = sub
	return nil
}

// advisoryLine turns an advisory's subject into a line: its kind in
// words, then stream and consumer as key=value.
func advisoryLine(subject string, now time.Time) LogLine {
	rest := strings.TrimPrefix(subject, "$JS.EVENT.ADVISORY.")
	level := slog.LevelInfo
	for _, w := range []string{"MAX_DELIVERIES", "TERMINATED", "QUORUM_LOST", "STREAM.RESTORE_COMPLETE"} {
		if strings.Contains(rest, w) {
			level = slog.LevelWarn
		}
	}
	return LogLine{Time: now, Level: level, Component: "engine", Text: "engine advisory " + strings.ReplaceAll(rest, ".", " ")}
}

// Routes serves GET /v1/slos, /v1/alerts (the admin or a client with the
// metrics role) and GET /v1/anomalies (the admin only: examples quote
// logs, masked).
func (s *SLOService) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	mux.Handle("GET /v1/slos", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.mayRead(r); err != nil {
			return err
		}
		p := s.o.Config.SLOPolicy
		api.WriteJSON(w, http.StatusOK, map[string]any{"slos": s.slos.Status(), "policy": map[string]any{
			"interval": p.Interval.String(), "resolution": p.Resolution.String(), "min_events": p.MinEvents,
		}})
		return nil
	})))
	mux.Handle("GET /v1/alerts", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.mayRead(r); err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"alerts": s.alerts.List()})
		return nil
	})))
	mux.Handle("GET /v1/anomalies", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := api.RequireAdmin(r); err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"site": s.o.Site, "classes": s.Anomalies()})
		return nil
	})))
}

// Anomalies are the log classes of every process sharing this engine
// (this one's as of now, the others' as of their last summary, at most
// 15 s old), merged by class.
func (s *SLOService) Anomalies() []AnomalyClass {
	own := s.anomalies.Classes()
	if s.share == nil {
		return own
	}
	return s.share.merge(own)
}

func (s *SLOService) mayRead(r *http.Request) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Admin() || s.o.Config.HasRole(p.Client, config.RoleMetrics) {
		return nil
	}
	return api.Forbidden(fmt.Sprintf("client %q may not read SLOs and alerts: it needs the %q role", p.Client, config.RoleMetrics))
}
