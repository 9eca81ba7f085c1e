package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
)

// The audit trail: every change made through the API (and so through the
// CLI) is one message in the AUDIT stream, appended by the request policy
// (policy.go) on the replica that ran the change.
const (
	// AuditStream holds the audit trail.
	AuditStream = "AUDIT"
	// AuditSubjects is the subject space of the trail: audit.<area>.
	AuditSubjects = "audit.>"
	auditPrefix   = "audit."
	// auditMaxAge and auditMaxBytes are the trail's retention: the event
	// period and well beyond, with a size cap so that the trail cannot
	// fill the engine's disk (the oldest entries go first).
	auditMaxAge   = 400 * 24 * time.Hour
	auditMaxBytes = 1 << 30
	// auditMaxEntry bounds one entry; a before/after or body beyond
	// auditMaxPart is replaced by its size and digest.
	auditMaxEntry = 256 << 10
	auditMaxPart  = 48 << 10
)

// AuditProtected are the subjects no outside identity may publish to, over
// any door: the trail's own subjects and the JetStream API requests that
// would change, purge or delete its stream or messages, or define a
// stream that writes into it (a republish). Client accounts cannot reach
// any of them (engine/clients.go); the engine denies them to the admin's
// NATS connections too (Engine.Protect).
var AuditProtected = []string{
	AuditSubjects,
	"$JS.API.STREAM.*." + AuditStream,
	"$JS.API.STREAM.MSG.DELETE." + AuditStream,
	"$JS.API.STREAM.CREATE.>",
	"$JS.API.STREAM.UPDATE.>",
	"$JS.API.STREAM.RESTORE.>",
}

// Actor is who made or approved a change.
type Actor struct {
	KeyID  string `json:"key_id"`
	Client string `json:"client"`
	Role   string `json:"role,omitempty"`
	Label  string `json:"label,omitempty"`
}

// ActorOf is the actor of an authenticated caller.
func ActorOf(p api.Principal) Actor {
	return Actor{KeyID: p.KeyID, Client: p.Client, Role: p.Role, Label: p.Label}
}

// String names the actor for people: "Li Wei (operator, key 3f9c…)".
func (a Actor) String() string {
	who := a.Label
	if who == "" {
		who = a.Client
	}
	if a.Role != "" {
		return fmt.Sprintf("%s (%s, key %s)", who, a.Role, a.KeyID)
	}
	return fmt.Sprintf("%s (key %s)", who, a.KeyID)
}

// AuditEntry is one change.
type AuditEntry struct {
	Seq  uint64    `json:"seq,omitempty"` // the stream's sequence, set when read
	ID   string    `json:"id"`            // the request's id (dedupe key)
	Time time.Time `json:"time"`
	Who  Actor     `json:"who"`
	// ApprovedBy is the second person when the change ran under a freeze.
	ApprovedBy *Actor `json:"approved_by,omitempty"`
	Approval   string `json:"approval,omitempty"`
	// Outcome: "applied" (the change ran and succeeded), "failed" (it
	// ran and was refused or failed: Status says why), "pending" (held
	// for approval under Freeze).
	Outcome string `json:"outcome"`
	Freeze  string `json:"freeze,omitempty"`
	Method  string `json:"method"`
	Route   string `json:"route"` // the route's pattern
	Path    string `json:"path"`
	Area    string `json:"area"`
	Status  int    `json:"status"`
	// Before and After are the resource as its GET route showed it
	// around the change, where it has one.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Body is the request body, secrets redacted.
	Body json.RawMessage `json:"body,omitempty"`
}

// Audit appends to and reads the trail. Safe for concurrent use.
type Audit struct {
	js     jetstream.JetStream
	stream jetstream.Stream

	appended *prometheus.CounterVec
	failed   prometheus.Counter
	waiting  chan struct{} // one token per follow request waiting
	waitingG prometheus.GaugeFunc
}

// maxAuditFollowers bounds the follow requests waiting at once on one
// process; more answer 429.
const maxAuditFollowers = 64

// OpenAudit creates or updates the AUDIT stream (engine.replicas copies
// through js) and registers its metrics with reg.
func OpenAudit(ctx context.Context, js jetstream.JetStream, reg prometheus.Registerer) (*Audit, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: AuditStream, Description: "stadion audit trail: every change made through the API",
		Subjects: []string{AuditSubjects}, Storage: jetstream.FileStorage,
		MaxAge: auditMaxAge, MaxBytes: auditMaxBytes, MaxMsgSize: auditMaxEntry,
		Discard: jetstream.DiscardOld, Duplicates: 10 * time.Minute,
		DenyDelete: true, DenyPurge: true,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", AuditStream, err)
	}
	a := &Audit{js: js, stream: st, waiting: make(chan struct{}, maxAuditFollowers),
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_audit_entries_total", Help: "Entries this process appended to the audit trail, by outcome (applied, failed, pending).",
		}, []string{"outcome"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_audit_append_errors_total", Help: "Changes whose audit entry could not be appended after retries (each is logged with the whole entry).",
		}),
	}
	a.waitingG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stadion_audit_followers", Help: "Requests following the audit trail on this process now (at most 64; more answer 429).",
	}, func() float64 { return float64(len(a.waiting)) })
	if reg != nil {
		reg.MustRegister(a.appended, a.failed, a.waitingG)
	}
	return a, nil
}

// Append stores e, retrying for up to 10 s; the request id is the
// engine's dedupe id, so a retry after a lost acknowledgement stores it
// once.
func (a *Audit) Append(ctx context.Context, e AuditEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if len(raw) > auditMaxEntry-1024 {
		e.Before, e.After, e.Body = clip(e.Before, 1024), clip(e.After, 1024), clip(e.Body, 1024)
		raw, _ = json.Marshal(e)
	}
	msg := &nats.Msg{Subject: auditPrefix + e.Area, Data: raw, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, e.ID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for {
		_, err = a.js.PublishMsg(ctx, msg)
		if err == nil {
			a.appended.WithLabelValues(e.Outcome).Inc()
			return nil
		}
		select {
		case <-ctx.Done():
			a.failed.Inc()
			return fmt.Errorf("audit: append: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// AuditQuery selects entries: after a sequence, or since a time.
type AuditQuery struct {
	AfterSeq uint64
	Since    time.Time
	Limit    int
	// Wait is how long to wait for a first entry when there is none yet
	// (following the trail).
	Wait time.Duration
}

// ErrTooManyFollowers is returned when maxAuditFollowers wait already.
var ErrTooManyFollowers = errors.New("audit: too many followers waiting")

// Read returns up to q.Limit entries in order.
func (a *Audit) Read(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Wait > 0 {
		select {
		case a.waiting <- struct{}{}:
			defer func() { <-a.waiting }()
		default:
			return nil, ErrTooManyFollowers
		}
	}
	cfg := jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckNonePolicy,
		InactiveThreshold: 30 * time.Second, MemoryStorage: true, Replicas: 1}
	switch {
	case q.AfterSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, q.AfterSeq+1
	case !q.Since.IsZero():
		since := q.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := a.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	name := cons.CachedInfo().Name
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = a.stream.DeleteConsumer(ctx, name)
	}()
	pending := int(min(cons.CachedInfo().NumPending, uint64(q.Limit)))
	var out []AuditEntry
	if pending == 0 {
		if q.Wait == 0 {
			return nil, nil
		}
		// The wait ends with the request too (a follower that went away).
		wctx, cancel := context.WithTimeout(ctx, q.Wait)
		m, err := cons.Next(jetstream.FetchContext(wctx))
		cancel()
		if err != nil {
			return nil, nil // nothing new within the wait
		}
		e, left := decodeEntry(m)
		out = append(out, e)
		pending = int(min(left, uint64(q.Limit-1)))
	}
	if pending == 0 {
		return out, nil
	}
	batch, err := cons.Fetch(pending, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		return out, err
	}
	for m := range batch.Messages() {
		e, _ := decodeEntry(m)
		out = append(out, e)
	}
	return out, batch.Error()
}

// decodeEntry reads one entry and how many follow it.
func decodeEntry(m jetstream.Msg) (AuditEntry, uint64) {
	var e AuditEntry
	_ = json.Unmarshal(m.Data(), &e)
	md, err := m.Metadata()
	if err != nil {
		return e, 0
	}
	e.Seq = md.Sequence.Stream
	return e, md.NumPending
}

// clip replaces a JSON value longer than max by its size.
func clip(v json.RawMessage, max int) json.RawMessage {
	if len(v) <= max {
		return v
	}
	raw, _ := json.Marshal(map[string]any{"clipped_bytes": len(v)})
	return raw
}
