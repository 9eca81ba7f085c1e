package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stadion-dev/stadion/internal/engine"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

// viewState is the cloud's account of one venue, stored in the gate-view
// bucket with the last scans-stream sequence it includes, so a restart
// counts nothing twice.
//
// Every cloud replica follows the venue's scans through one durable
// consumer that hands out one batch at a time (MaxAckPending 1), so batches
// are applied in stream order whichever replica takes them, and each
// replica applies a batch to the state stored in the bucket (compare and
// set on its revision), never to a copy of its own: with N replicas the
// counts are those of one.
type viewState struct {
	Seq      uint64    `json:"seq"`
	Scans    uint64    `json:"scans"`
	Admitted uint64    `json:"admitted"`
	Rejected uint64    `json:"rejected"`
	Applied  int       `json:"config_version_applied"`
	LastScan time.Time `json:"last_scan"`
}

// venueView follows one venue's scans stream in the cloud.
type venueView struct {
	c       *Cloud
	venue   string
	kv      jetstream.KeyValue
	mu      sync.Mutex
	st      viewState
	version int       // configuration version published
	hb      heartbeat // last heartbeat
	hbAt    time.Time
}

func openView(ctx context.Context, c *Cloud, venue string, version int) (*venueView, error) {
	kv, err := c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "gate-view", Description: "per-venue counts of forwarded scans", History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("gate: view bucket: %w", err)
	}
	v := &venueView{c: c, venue: venue, kv: kv, version: version}
	// At start-up on a cluster the bucket's leader may not be elected yet.
	if v.st, err = engine.Retry(ctx, func(ctx context.Context) (viewState, error) {
		st, _, err := v.stored(ctx)
		return st, err
	}); err != nil {
		return nil, err
	}
	return v, nil
}

// stored reads the venue's state from the bucket, with the entry's
// revision (0: no entry yet).
func (v *venueView) stored(ctx context.Context) (viewState, uint64, error) {
	var st viewState
	e, err := v.kv.Get(ctx, v.venue)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return st, 0, nil
	case err != nil:
		return st, 0, fmt.Errorf("gate: view of %s: %w", v.venue, err)
	}
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return st, 0, fmt.Errorf("gate: view of %s is corrupt: %w", v.venue, err)
	}
	return st, e.Revision(), nil
}

// follow consumes the venue's scans stream until ctx ends.
func (v *venueView) follow(ctx context.Context) {
	for ctx.Err() == nil {
		if err := v.consume(ctx); err != nil && ctx.Err() == nil {
			v.c.log.Warn("venue view interrupted; retrying", "venue", v.venue, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (v *venueView) consume(ctx context.Context) error {
	cons, err := v.c.js.CreateOrUpdateConsumer(ctx, cloudScansStream(v.venue), jetstream.ConsumerConfig{
		Durable: "view", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, // in order, on any replica
		AckWait: time.Minute,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		if err := v.apply(ctx, msg); err != nil {
			_ = msg.Nak()
			return err
		}
	}
}

// apply takes one forwarded batch into the view and the admissions topic.
func (v *venueView) apply(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	st, rev, err := v.stored(ctx)
	if err != nil {
		return err
	}
	if meta.Sequence.Stream <= st.Seq {
		v.remember(st)
		return msg.Ack() // already counted (before a restart, or by another replica)
	}
	// A venue edge is an outside identity: its batches must be strict
	// JSON like every other body that enters.
	var b batch
	if err := unmarshalStrict(msg.Data(), &b); err != nil || len(b.Scans) > maxForwardBatch {
		v.c.refuse(v.venue, refusedBatch, "seq", meta.Sequence.Stream, "scans", len(b.Scans), "err", err)
		return msg.Ack()
	}
	sent := len(b.Scans)
	if b.Scans, err = v.screen(ctx, b.Scans); err != nil {
		return err
	}
	if err := v.publishAdmissions(ctx, b.Scans); err != nil {
		return err
	}
	st.Seq = meta.Sequence.Stream
	st.Applied = max(st.Applied, b.ConfigVersion)
	for _, s := range b.Scans {
		st.Scans++
		if s.Decision == Accept {
			st.Admitted++
		} else {
			st.Rejected++
		}
		st.LastScan = s.At
	}
	raw, _ := json.Marshal(st)
	// Compare and set: a replica that wrote meanwhile (this one's batch
	// having outlived its ack wait) makes this fail, and the batch comes
	// back to be applied to what that replica stored.
	if rev == 0 {
		_, err = v.kv.Create(ctx, v.venue, raw)
	} else {
		_, err = v.kv.Update(ctx, v.venue, raw, rev)
	}
	if err != nil {
		return err
	}
	v.remember(st)
	v.c.m.forwarded.WithLabelValues(v.venue).Add(float64(len(b.Scans)))
	if lat, ok := parseLatency(msg.Headers().Get(latencyHeader), sent); ok {
		observeLatency(v.c.m.decision.WithLabelValues(v.venue), lat)
	}
	return msg.DoubleAck(ctx)
}

// remember keeps st as this replica's latest copy of the stored state.
func (v *venueView) remember(st viewState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st.Seq >= v.st.Seq {
		v.st = st
	}
}

// screen keeps the scans of a batch that are the venue's own and well
// formed, and whose accepted tickets the cloud issued for the venue (their
// ticket is then the cloud's record, so what is published is what was
// issued); the others are refused.
func (v *venueView) screen(ctx context.Context, scans []Scan) ([]Scan, error) {
	reasons := make([]string, len(scans))
	var ids []string
	for i := range scans {
		reasons[i] = scanShape(&scans[i], v.venue)
		if reasons[i] == "" && scans[i].Decision == Accept {
			ids = append(ids, scans[i].Ticket.ID)
		}
	}
	issued, err := v.c.issuedTickets(ctx, v.venue, ids)
	if err != nil {
		return nil, err
	}
	kept := scans[:0]
	for i, s := range scans {
		if reasons[i] == "" && s.Decision == Accept {
			t, ok := issued[s.Ticket.ID]
			if !ok {
				reasons[i] = "ticket " + s.Ticket.ID + " was not issued for this venue"
			}
			s.Ticket = &t
		}
		if reasons[i] != "" {
			v.c.refuse(v.venue, refusedScan, "scan", s.ID, "reason", reasons[i])
			continue
		}
		kept = append(kept, s)
	}
	return kept, nil
}

// publishAdmissions publishes the accepted scans of a batch into the
// admissions topic, idempotently by scan id, several at a time.
func (v *venueView) publishAdmissions(ctx context.Context, scans []Scan) error {
	if !v.c.x.HasTopic(AdmissionsTopic) {
		return nil
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 256)
		mu   sync.Mutex
		errs []error
	)
	for i := range scans {
		s := &scans[i]
		if s.Decision != Accept {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			raw, _ := json.Marshal(admissionEvent(s))
			_, err := v.c.x.Publish(ctx, AdmissionsTopic, "gate-"+v.venue, raw, s.ID)
			var p *api.Problem
			if errors.As(err, &p) && p.Status == http.StatusBadRequest {
				// The topic's schema refuses it: retrying cannot help, and
				// blocking would stop the venue's view. The scan itself is
				// kept in GATE_SCANS_<venue>.
				v.c.log.Error("admission refused by the admissions topic; skipped", "venue", v.venue, "scan", s.ID, "err", err)
				return
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// onHeartbeat records a linked edge's report.
func (c *Cloud) onHeartbeat(m *nats.Msg) {
	parts := strings.Split(m.Subject, ".")
	if len(parts) != 3 {
		return
	}
	v, ok := c.views[parts[1]]
	if !ok {
		return
	}
	var hb heartbeat
	if unmarshalStrict(m.Data, &hb) != nil || hb.Venue != parts[1] || hb.Anomalous < 0 || len(hb.Anomaly) > maxHeartbeatAnomaly {
		c.refuse(v.venue, refusedHeartbeat, "named", hb.Venue)
		return
	}
	v.mu.Lock()
	relinked := time.Since(v.hbAt) > 3*c.cfg.Venues[v.venue].Effective.Heartbeat.D()
	v.hb, v.hbAt = hb, time.Now()
	v.mu.Unlock()
	if relinked {
		c.log.Info("venue edge linked", "venue", v.venue, "edge_scans", hb.Scans)
	}
}

// unmarshalStrict decodes JSON a venue edge sent, refusing what is not
// strict JSON (api.CheckJSON). Unknown fields are allowed: edges of the
// next version may add some.
func unmarshalStrict(data []byte, v any) error {
	if err := api.CheckJSON(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
