package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// A consumer with a delivery limit stops handing out an event whose last
// attempt failed (its ack timeout passed, or it was nacked) and the engine
// announces it on $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>,
// from its own timer: whether or not anyone pulls again. AdvisoryStream
// keeps those announcements, so one that arrives while no stadion process
// runs (or while the one handling it dies) is handled later rather than
// lost, and a durable work-queue consumer shared by every process hands
// each to exactly one of them.
const (
	AdvisoryStream   = "DEADLETTER_ADVISORIES"
	advisorySubjects = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"
	advisoryConsumer = "deadletter-advisories"
	// Each consumer's advisories are bounded apart: a plain NATS client's
	// consumer that gives up many events fills only its own share, never
	// a subscription's (the engine's byte limit is left out: it would be
	// reserved from its storage up front). The consumers are bounded (per
	// client, and subscriptions), so the stream is.
	advisoriesPerConsumer = 10_000
	advisoryAge           = 7 * 24 * time.Hour
	advisoryBatch         = 64
	// liveQueue bounds the advisories seen live and waiting for the
	// handler in each process; liveGiveUp is how long one is retried.
	liveQueue  = 1024
	liveGiveUp = time.Minute
)

// Advisory is the engine's max-deliveries announcement.
type Advisory struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"timestamp"`
	Stream     string    `json:"stream"`
	Consumer   string    `json:"consumer"`
	StreamSeq  uint64    `json:"stream_seq"`
	Deliveries uint64    `json:"deliveries"`
}

// MsgID is the Nats-Msg-Id for the dead letter an advisory gives: the same
// event given up by the same consumer, announced again or handled twice,
// stores one letter.
func (a Advisory) MsgID() string {
	return "maxdeliver:" + a.Stream + ":" + a.Consumer + ":" + formatUint(a.StreamSeq)
}

// Handler turns one advisory into a dead letter. It returns nil when the
// advisory is done with (stored, or not one of the handler's consumers)
// and an error to have it handed out again a few seconds later.
type Handler func(ctx context.Context, a Advisory) error

// Watcher hands the engine's max-deliveries advisories to a handler.
type Watcher struct {
	js      jetstream.JetStream
	log     *slog.Logger
	handle  Handler
	results *prometheus.CounterVec
}

// NewWatcher registers the watcher's series on reg (nil: not registered).
func NewWatcher(js jetstream.JetStream, log *slog.Logger, reg prometheus.Registerer, h Handler) *Watcher {
	w := &Watcher{js: js, log: log, handle: h, results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "stadion", Subsystem: "deadletter", Name: "advisories_total",
		Help: "Max-deliveries advisories handled, by result (handled, retry, unreadable from the stream; handled-live, live-dropped as sent), and nudges sent to consumers (nudge).",
	}, []string{"result"})}
	if reg != nil {
		reg.MustRegister(w.results)
	}
	return w
}

// Open creates (or updates) the advisory stream and its consumer. Once it
// returns, every advisory the engine sends is kept until handled.
func (w *Watcher) Open(ctx context.Context) (jetstream.Consumer, error) {
	if _, err := w.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: AdvisoryStream, Description: "stadion: events given up by a consumer, waiting to be dead-lettered",
		Subjects: []string{advisorySubjects}, Storage: jetstream.FileStorage, Retention: jetstream.WorkQueuePolicy,
		MaxMsgsPerSubject: advisoriesPerConsumer, MaxAge: advisoryAge,
		Discard: jetstream.DiscardNew, DiscardNewPerSubject: true,
	}); err != nil {
		return nil, err
	}
	return w.js.CreateOrUpdateConsumer(ctx, AdvisoryStream, jetstream.ConsumerConfig{
		Durable: advisoryConsumer, Description: "stadion: dead-letters what consumers gave up",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 1024,
	})
}

// Run handles advisories from cons until ctx ends: one batch at a time,
// one advisory at a time, so its work is bounded whatever the engine sends.
func (w *Watcher) Run(ctx context.Context, cons jetstream.Consumer) {
	bo := Exponential(100*time.Millisecond, 5*time.Second).Backoff()
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.fetch(ctx, fctx, cons)
		cancel()
		if err != nil && ctx.Err() == nil {
			w.log.Debug("advisory fetch failed", "error", err)
			bo.Wait(ctx)
			continue
		}
		bo.Reset()
	}
}

// fetch handles one batch; the fetch ends with fctx, the handling with ctx.
func (w *Watcher) fetch(ctx, fctx context.Context, cons jetstream.Consumer) error {
	batch, err := cons.Fetch(advisoryBatch, jetstream.FetchContext(fctx))
	if err != nil {
		return err
	}
	for m := range batch.Messages() {
		w.one(ctx, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
		return err
	}
	return nil
}

func (w *Watcher) one(ctx context.Context, m jetstream.Msg) {
	var a Advisory
	if err := json.Unmarshal(m.Data(), &a); err != nil || a.Stream == "" || a.Consumer == "" || a.StreamSeq == 0 {
		w.results.WithLabelValues("unreadable").Inc()
		_ = m.Term()
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err := w.handle(hctx, a)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("given-up event not yet dead-lettered; retrying", "stream", a.Stream, "consumer", a.Consumer, "seq", a.StreamSeq, "error", err)
		}
		w.results.WithLabelValues("retry").Inc()
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	w.results.WithLabelValues("handled").Inc()
	if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		// It comes back; the letter's Nats-Msg-Id keeps it single.
		w.log.Debug("advisory ack failed", "error", err)
	}
}

// RunLive also handles advisories as the engine sends them, through a
// core subscription shared by every process (one takes each), until ctx
// ends. The stream is the durable path, but a replicated stream electing
// a leader (its leader's node just died) stores nothing, and the engine
// sends each advisory once: one given up in those seconds would never
// become a letter. Handling it live as well closes that gap; the letter's
// Nats-Msg-Id makes the two paths store one letter. A full queue leaves
// an advisory to the stream (counted as "live-dropped").
func (w *Watcher) RunLive(ctx context.Context, nc *nats.Conn) error {
	queue := make(chan Advisory, liveQueue)
	sub, err := nc.QueueSubscribe(advisorySubjects, advisoryConsumer, func(m *nats.Msg) {
		var a Advisory
		if json.Unmarshal(m.Data, &a) != nil || a.Stream == "" || a.Consumer == "" || a.StreamSeq == 0 {
			return // the stream path counts it
		}
		select {
		case queue <- a:
		default:
			w.results.WithLabelValues("live-dropped").Inc()
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-queue:
			w.live(ctx, a)
		}
	}
}

// live handles one advisory seen live, retrying for up to liveGiveUp.
func (w *Watcher) live(ctx context.Context, a Advisory) {
	bo := Exponential(100*time.Millisecond, 5*time.Second).Backoff()
	until := time.Now().Add(liveGiveUp)
	for ctx.Err() == nil {
		hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := w.handle(hctx, a)
		cancel()
		if err == nil {
			w.results.WithLabelValues("handled-live").Inc()
			return
		}
		if time.Now().After(until) {
			w.log.Warn("given-up event seen live not dead-lettered; left to the advisory stream", "stream", a.Stream, "consumer", a.Consumer, "seq", a.StreamSeq, "error", err)
			return
		}
		bo.Wait(ctx)
	}
}
