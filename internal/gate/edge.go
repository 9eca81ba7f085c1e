package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/ops"
)

// Edge is the venue side: it decides scans from local state only, stores
// them in its own JetStream domain and lets the cloud source them.
type Edge struct {
	venue   string
	eng     *engine.Engine
	js      jetstream.JetStream
	nc      *nats.Conn
	keys    *api.Keys
	logs    *LogRing
	log     *slog.Logger
	m       *edgeMetrics
	ctl     *ctlState
	led     *ledger
	answers *answerMux // the cloud's answers to forwarded batches
	started time.Time
	classes func() []ops.AnomalyClass

	cancel context.CancelFunc
	wg     sync.WaitGroup
	subs   []*nats.Subscription
}

// EdgeOptions configure NewEdge.
type EdgeOptions struct {
	Venue  string
	Engine *engine.Engine // running in EdgeDomain(Venue), linked to the cloud
	Keys   *api.Keys      // the edge's own API keys (admin, devices)
	Logs   *LogRing       // served to the cloud as `stadion venue logs`
	Reg    prometheus.Registerer
	Log    *slog.Logger
	// Anomalies lists the edge's own log-template classes (nil: none):
	// their summary rides on heartbeats, the list is served to the cloud
	// as `stadion anomalies --venue`.
	Anomalies func() []ops.AnomalyClass
}

// NewEdge builds the edge service.
func NewEdge(o EdgeOptions) *Edge {
	log := o.Log.With("service", "edge", "venue", o.Venue)
	e := &Edge{
		venue: o.Venue, eng: o.Engine, js: o.Engine.JS, nc: o.Engine.Conn, keys: o.Keys,
		logs: o.Logs, log: log, m: newEdgeMetrics(o.Reg), ctl: newCtlState(o.Venue, log),
		classes: o.Anomalies,
	}
	if e.classes == nil {
		e.classes = func() []ops.AnomalyClass { return nil }
	}
	e.led = newLedger(e.js, e.ctl, log)
	e.answers = newAnswerMux(fwdReplyPrefix(o.Venue))
	return e
}

// Start creates the edge's streams, replays its state and starts serving.
func (e *Edge) Start(ctx context.Context) error {
	e.started = time.Now().UTC()
	if err := e.streams(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if err := e.ctl.follow(runCtx, e.js); err != nil {
		return fmt.Errorf("gate: control state: %w", err)
	}
	if err := e.led.replay(ctx); err != nil {
		return fmt.Errorf("gate: scan log: %w", err)
	}
	e.log.Info("edge state replayed", "scans", e.led.scans.Load(), "tickets", len(e.led.tickets),
		"config_version", e.ctl.config().Version)
	nudge, err := e.nudges()
	if err != nil {
		return err
	}
	sub, err := e.answers.subscribe(e.nc)
	if err != nil {
		return err
	}
	e.subs = append(e.subs, sub)
	e.wg.Add(4)
	go func() { defer e.wg.Done(); e.led.run(runCtx) }()
	go func() { defer e.wg.Done(); e.heartbeats(runCtx) }()
	go func() { defer e.wg.Done(); e.syncLoop(runCtx, nudge) }()
	go func() { defer e.wg.Done(); e.forward(runCtx) }()
	return e.serveDiagnostics()
}

func (e *Edge) streams(ctx context.Context) error {
	if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: edgeScansStream, Description: "every scan of venue " + e.venue + ", in decision order",
		Subjects: []string{edgeScansSubj}, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("gate: scans stream: %w", err)
	}
	cfg := jetstream.StreamConfig{
		Name: edgeStateStream, Description: "the control state of venue " + e.venue + " as last caught up from the cloud",
		Subjects: []string{edgeStatePrefix + ">"}, MaxMsgsPerSubject: 1, Storage: jetstream.FileStorage,
	}
	s, err := e.js.Stream(ctx, edgeStateStream)
	if err == nil && s.CachedInfo().Config.Mirror != nil {
		// Made by an earlier version as a mirror of the cloud's stream,
		// which venue credentials no longer reach: the state comes back
		// from the cloud at the next link.
		e.log.Warn("replacing the control mirror of an earlier version; the control state is caught up at the next link")
		if err := e.js.DeleteStream(ctx, edgeStateStream); err != nil {
			return fmt.Errorf("gate: control state stream: %w", err)
		}
	}
	if _, err := e.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("gate: control state stream: %w", err)
	}
	return nil
}

// Stop ends the workers; scans in flight get an error.
func (e *Edge) Stop(ctx context.Context) error {
	for _, s := range e.subs {
		_ = s.Unsubscribe()
	}
	if e.cancel != nil {
		e.cancel()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("gate: edge stop: workers did not end in time")
	}
}

// heartbeats report to the cloud while the link is up (and go nowhere
// while it is cut).
func (e *Edge) heartbeats(ctx context.Context) {
	for {
		every := e.ctl.config().Settings.Heartbeat.D()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		hb := heartbeat{
			Venue: e.venue, ConfigVersion: e.ctl.config().Version, Started: e.started, Sent: time.Now().UTC(),
			Scans: e.led.scans.Load(), Admitted: e.led.admitted.Load(), Rejected: e.led.rejected.Load(),
		}
		hb.Anomalous, hb.Anomaly = anomalySummary(e.classes())
		raw, _ := json.Marshal(hb)
		_ = e.nc.Publish(hbSubject(e.venue), raw)
	}
}
