package ops

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// AnomalyBucket holds every process's class summaries, so that GET
// /v1/anomalies on any replica lists the classes of all of them.
const AnomalyBucket = "ops_anomalies"

const (
	anomalyTTL        = time.Hour        // a process's summary outlives it by at most this
	anomalyRefresh    = 20 * time.Minute // an unchanged summary is rewritten this often
	anomalyShareEvery = 15 * time.Second
	anomalyMirrorCap  = 20000 // summaries kept from the bucket (about 4 MiB at 200 bytes each)
	anomalyPutsRound  = 500   // writes per round at most; the rest wait for the next
)

// anomalyShare publishes this process's class summaries to AnomalyBucket
// (key <class id>.<process>, class ids being the same on every replica)
// and mirrors everyone's, to merge them by class.
type anomalyShare struct {
	kv      jetstream.KeyValue
	process string
	log     *slog.Logger
	now     func() time.Time
	m       *anomalyShareMetrics

	mu     sync.Mutex
	mirror map[string]sharedClass // by key

	pubMu sync.Mutex
	put   map[string]sharedPut // this process's last writes, by class id
}

type sharedClass struct {
	Process string       `json:"process"`
	Class   AnomalyClass `json:"class"`
	at      time.Time    // when the engine stored it
}

type sharedPut struct {
	count int64
	anom  bool
	at    time.Time
}

func openAnomalyShare(ctx context.Context, js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger) (*anomalyShare, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: AnomalyBucket, Description: "stadion log anomaly classes: one summary per class and process, kept an hour after its last write",
		History: 1, TTL: anomalyTTL, MaxBytes: 32 << 20, MaxValueSize: 4 << 10,
		Storage: jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		return nil, err
	}
	id := make([]byte, 6)
	rand.Read(id)
	return &anomalyShare{
		kv: kv, process: hex.EncodeToString(id), log: log, now: time.Now, m: newAnomalyShareMetrics(reg),
		mirror: map[string]sharedClass{}, put: map[string]sharedPut{},
	}, nil
}

// run mirrors the bucket and publishes classes every anomalyShareEvery
// until ctx ends.
func (s *anomalyShare) run(ctx context.Context, classes func() []AnomalyClass) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		s.log.Warn("anomalies: not following the shared classes", "err", err)
	} else {
		defer w.Stop()
	}
	var updates <-chan jetstream.KeyValueEntry
	if w != nil {
		updates = w.Updates()
	}
	t := time.NewTicker(anomalyShareEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-updates:
			if e != nil {
				s.apply(e)
			}
		case <-t.C:
			s.publish(ctx, classes())
		}
	}
}

func (s *anomalyShare) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.mirror, e.Key())
		return
	}
	var c sharedClass
	if json.Unmarshal(e.Value(), &c) != nil {
		return
	}
	c.at = e.Created()
	if _, ok := s.mirror[e.Key()]; !ok && len(s.mirror) >= anomalyMirrorCap {
		s.m.dropped.Inc()
		return
	}
	s.mirror[e.Key()] = c
}

// publish writes the classes whose count or state changed since their
// last write, and those not written for anomalyRefresh: at most
// anomalyPutsRound, in the order given (Classes: anomalous first).
func (s *anomalyShare) publish(ctx context.Context, classes []AnomalyClass) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	now := s.now()
	puts := 0
	for _, c := range classes {
		last, ok := s.put[c.ID]
		if ok && last.count == c.Count && last.anom == c.Anomalous && now.Sub(last.at) < anomalyRefresh {
			continue
		}
		if puts++; puts > anomalyPutsRound {
			return
		}
		c.Template = clipExample(c.Template, 2*maxExample) // the entry stays under its 4 KiB
		raw, err := json.Marshal(sharedClass{Process: s.process, Class: c})
		if err != nil {
			continue
		}
		if _, err := s.kv.Put(ctx, c.ID+"."+s.process, raw); err != nil {
			s.m.writeErrors.Inc()
			if ctx.Err() != nil {
				return
			}
			continue
		}
		s.put[c.ID] = sharedPut{count: c.Count, anom: c.Anomalous, at: now}
	}
}

// merge combines this process's classes (the freshest) with the other
// processes' summaries of the last anomalyTTL: counts add up by class,
// first seen is the earliest, last seen the latest (with its example),
// a class is anomalous where any process says so.
func (s *anomalyShare) merge(own []AnomalyClass) []AnomalyClass {
	byID := map[string]*AnomalyClass{}
	procs := map[string]map[string]bool{}
	add := func(process string, c AnomalyClass) {
		if procs[c.ID] == nil {
			procs[c.ID] = map[string]bool{}
		}
		procs[c.ID][process] = true
		m, ok := byID[c.ID]
		if !ok {
			c.Processes = 0
			byID[c.ID] = &c
			return
		}
		m.Count += c.Count
		m.LastMinute += c.LastMinute
		if c.FirstSeen.Before(m.FirstSeen) {
			m.FirstSeen = c.FirstSeen
		}
		if c.LastSeen.After(m.LastSeen) {
			m.LastSeen, m.Example, m.Template = c.LastSeen, c.Example, c.Template
		}
		if levelRank(c.Level) > levelRank(m.Level) {
			m.Level = c.Level
		}
		m.Anomalous = m.Anomalous || c.Anomalous
	}
	for _, c := range own {
		add(s.process, c)
	}
	cut := s.now().Add(-anomalyTTL)
	s.mu.Lock()
	for _, sc := range s.mirror {
		if sc.Process == s.process || sc.at.Before(cut) {
			continue
		}
		add(sc.Process, sc.Class)
	}
	s.mu.Unlock()
	out := make([]AnomalyClass, 0, len(byID))
	for id, c := range byID {
		c.Processes = len(procs[id])
		out = append(out, *c)
	}
	sortClasses(out)
	return out
}

func levelRank(l string) int {
	switch strings.ToLower(l) {
	case "error":
		return 3
	case "warn":
		return 2
	case "info":
		return 1
	}
	return 0
}

func sortClasses(out []AnomalyClass) {
	slices.SortFunc(out, func(x, y AnomalyClass) int {
		if x.Anomalous != y.Anomalous {
			if x.Anomalous {
				return -1
			}
			return 1
		}
		if c := y.LastSeen.Compare(x.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
}

type anomalyShareMetrics struct {
	writeErrors prometheus.Counter
	dropped     prometheus.Counter
}

func newAnomalyShareMetrics(reg prometheus.Registerer) *anomalyShareMetrics {
	m := &anomalyShareMetrics{
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_anomaly_share_write_errors_total", Help: "Class summaries this process could not write to the ops_anomalies bucket (retried at the next round).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_anomaly_share_dropped_total", Help: "Other processes' class summaries not mirrored because the mirror holds 20,000.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.writeErrors, m.dropped)
	}
	return m
}
