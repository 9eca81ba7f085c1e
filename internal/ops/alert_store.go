package ops

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Alert statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// AlertState is an alert as the engine keeps it: firing, or resolved
// with the time it ended.
type AlertState struct {
	Alert
	Status    string    `json:"status"`
	EndsAt    time.Time `json:"ends_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AlertBucket is the engine KV bucket holding every alert's state, keyed
// by the base64url of its ID. Only stadion's own connection uses it.
const AlertBucket = "ops_alerts"

// Limits of what one alert may carry (alerts are built inside stadion, but
// anomaly summaries quote log lines).
const (
	maxAlertID      = 256
	maxAlertSummary = 1024
	maxAlertLabels  = 32
	alertQueueCap   = 1024
	// resolvedKept is how long GET /v1/alerts lists a resolved alert.
	resolvedKept = 24 * time.Hour
)

// AlertStore is the Alerter every replica shares: the alert state lives in
// an engine KV bucket, and a transition (firing → resolved or back) is a
// compare-and-set, so exactly one replica wins it and notifies. Fire and
// Resolve never block: they queue (at most 1024 pending; beyond, the call
// is dropped and counted) for one worker.
type AlertStore struct {
	kv     jetstream.KeyValue
	log    *slog.Logger
	m      *alertMetrics
	notify func(AlertState) // called by the replica that won a transition
	now    func() time.Time

	ops chan alertOp

	mu    sync.Mutex
	state map[string]AlertState // mirror of the bucket, by alert ID
	// pending counts the operations queued per alert ID: while one is,
	// the mirror may not show the state the caller last asked for, so a
	// Fire or Resolve that looks redundant is queued anyway (the worker
	// reads the entry itself).
	pending map[string]int
	// latest is the seq of the last operation queued per alert ID: the
	// worker applies only that one, the state the caller last asked
	// for, and skips older Fires and Resolves of the same alert queued
	// before it (applied late they would undo what another replica did
	// in between).
	latest map[string]uint64
	seq    uint64
}

type alertOp struct {
	fire    *Alert
	resolve string
	seq     uint64 // the store's count of operations when it was queued
}

var _ Alerter = (*AlertStore)(nil)

// OpenAlertStore creates or opens the alerts bucket.
func OpenAlertStore(ctx context.Context, js jetstream.JetStream, replicas int, m *alertMetrics, log *slog.Logger) (*AlertStore, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: AlertBucket, Description: "stadion alerts: firing and resolved, one entry per alert ID",
		History: 1, TTL: 30 * 24 * time.Hour, MaxBytes: 64 << 20, MaxValueSize: 16 << 10,
		Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	return &AlertStore{
		kv: kv, log: log, m: m, now: time.Now, notify: func(AlertState) {},
		ops: make(chan alertOp, alertQueueCap), state: map[string]AlertState{}, pending: map[string]int{}, latest: map[string]uint64{},
	}, nil
}

// Fire raises a (or keeps it firing). A repeat of a firing ID is free.
func (s *AlertStore) Fire(a Alert) {
	a = clampAlert(a)
	if a.ID == "" {
		return
	}
	s.mu.Lock()
	cur, ok := s.state[a.ID]
	queued := s.pending[a.ID] > 0
	s.mu.Unlock()
	if ok && cur.Status == StatusFiring && !queued {
		return
	}
	s.enqueue(alertOp{fire: &a})
}

// Resolve ends the alert id if it fires.
func (s *AlertStore) Resolve(id string) {
	s.mu.Lock()
	cur, ok := s.state[id]
	queued := s.pending[id] > 0
	s.mu.Unlock()
	if (!ok || cur.Status != StatusFiring) && !queued {
		return
	}
	s.enqueue(alertOp{resolve: id})
}

func (s *AlertStore) enqueue(op alertOp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	op.seq = s.seq
	select {
	case s.ops <- op:
		s.pending[op.id()]++
		s.latest[op.id()] = op.seq
	default:
		s.m.opsDropped.Inc()
	}
}

func (op alertOp) id() string {
	if op.fire != nil {
		return op.fire.ID
	}
	return op.resolve
}

// isLatest reports whether op is the last operation queued for its alert.
func (s *AlertStore) isLatest(op alertOp) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest[op.id()] == op.seq
}

// done marks one queued operation of id as applied (or skipped).
func (s *AlertStore) done(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[id]--; s.pending[id] <= 0 {
		delete(s.pending, id)
		delete(s.latest, id)
	}
}

// List returns firing alerts and those resolved within the last day,
// firing first, most recent first.
func (s *AlertStore) List() []AlertState {
	s.mu.Lock()
	out := make([]AlertState, 0, len(s.state))
	cut := s.now().Add(-resolvedKept)
	for _, a := range s.state {
		if a.Status == StatusFiring || a.EndsAt.After(cut) {
			out = append(out, a)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b AlertState) int {
		if (a.Status == StatusFiring) != (b.Status == StatusFiring) {
			if a.Status == StatusFiring {
				return -1
			}
			return 1
		}
		return b.UpdatedAt.Compare(a.UpdatedAt)
	})
	return out
}

// Firing reports whether the alert id fires (as this replica last saw).
func (s *AlertStore) Firing(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state[id].Status == StatusFiring
}

// run mirrors the bucket and applies queued operations until ctx ends.
func (s *AlertStore) run(ctx context.Context, ready chan<- struct{}) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		s.log.Error("alerts: cannot watch the alerts bucket", "err", err)
		close(ready)
		return
	}
	defer w.Stop()
	go func() {
		for e := range w.Updates() {
			if e == nil {
				close(ready)
				continue
			}
			s.apply(e)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case op := <-s.ops:
			if !s.isLatest(op) {
				s.done(op.id())
				continue
			}
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if op.fire != nil {
				s.fire(octx, *op.fire)
			} else {
				s.resolve(octx, op.resolve)
			}
			cancel()
			s.done(op.id())
		}
	}
}

func (s *AlertStore) apply(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var st AlertState
	if json.Unmarshal(e.Value(), &st) != nil || st.ID == "" {
		return
	}
	s.mu.Lock()
	s.state[st.ID] = st
	n := 0
	for _, a := range s.state {
		if a.Status == StatusFiring {
			n++
		}
	}
	s.mu.Unlock()
	s.m.firing.Set(float64(n))
}

func alertKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// fire moves the alert to firing unless it already is: a compare-and-set
// on its entry, so one replica wins and notifies.
func (s *AlertStore) fire(ctx context.Context, a Alert) {
	key := alertKey(a.ID)
	now := s.now().UTC()
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	st := AlertState{Alert: a, Status: StatusFiring, UpdatedAt: now}
	raw, _ := json.Marshal(st)
	e, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = s.kv.Create(ctx, key, raw)
	case err != nil:
	default:
		var cur AlertState
		if json.Unmarshal(e.Value(), &cur) == nil && cur.Status == StatusFiring {
			s.remember(cur)
			return
		}
		_, err = s.kv.Update(ctx, key, raw, e.Revision())
	}
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			s.log.Warn("alerts: cannot store a firing alert", "alert", a.ID, "err", err)
		}
		return // another replica won the transition, or the engine failed
	}
	s.remember(st)
	s.m.transitions.WithLabelValues(a.Kind, StatusFiring).Inc()
	s.notify(st)
}

func (s *AlertStore) resolve(ctx context.Context, id string) {
	key := alertKey(id)
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return
	}
	var st AlertState
	if json.Unmarshal(e.Value(), &st) != nil || st.Status != StatusFiring {
		return
	}
	now := s.now().UTC()
	st.Status, st.EndsAt, st.UpdatedAt = StatusResolved, now, now
	raw, _ := json.Marshal(st)
	if _, err := s.kv.Update(ctx, key, raw, e.Revision()); err != nil {
		return
	}
	s.remember(st)
	s.m.transitions.WithLabelValues(st.Kind, StatusResolved).Inc()
	s.notify(st)
}

// remember updates the mirror at once (the watcher confirms it).
func (s *AlertStore) remember(st AlertState) {
	s.mu.Lock()
	s.state[st.ID] = st
	s.mu.Unlock()
}

// clampAlert bounds what one alert carries.
func clampAlert(a Alert) Alert {
	if len(a.ID) > maxAlertID {
		a.ID = a.ID[:maxAlertID]
	}
	if len(a.Summary) > maxAlertSummary {
		a.Summary = a.Summary[:maxAlertSummary]
	}
	if len(a.Labels) > maxAlertLabels {
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		l := make(map[string]string, maxAlertLabels)
		for _, k := range keys[:maxAlertLabels] {
			l[k] = a.Labels[k]
		}
		a.Labels = l
	}
	return a
}
