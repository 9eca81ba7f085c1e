package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// TestAlertStoreKeepsTheLastAskedState: of the operations queued for one
// alert, the last one asked wins: a Resolve that comes while the Fire
// before it still waits in the queue is not lost (the alert would stay
// firing forever), nor is a Fire that comes while a Resolve waits; the
// older ones are skipped, so a late Fire cannot undo a later Resolve.
func TestAlertStoreKeepsTheLastAskedState(t *testing.T) {
	eng := sloTestEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := OpenAlertStore(ctx, eng.JS, 1, newAlertMetrics(nil), sloQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	s.notify = func(st AlertState) { mu.Lock(); got = append(got, st.Status); mu.Unlock() }
	notified := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= n }
	}
	a := Alert{ID: "health/cloud/sink/db", Kind: "health", Severity: "page", Site: "cloud", Component: "sink/db", Check: "db_errors", Summary: "x"}

	// The worker is not running yet: Fire then Resolve wait in the
	// queue; the Resolve, asked last, wins: the alert never fires.
	s.Fire(a)
	s.Resolve(a.ID)
	run1, stop1 := context.WithCancel(ctx)
	ready := make(chan struct{})
	done1 := make(chan struct{})
	go func() { s.run(run1, ready); close(done1) }()
	<-ready
	sloWaitFor(t, "the queue to drain", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.pending) == 0 })
	if s.Firing(a.ID) {
		t.Fatal("a Fire queued before a Resolve left the alert firing")
	}

	// Firing, then the worker stops; a Resolve and a Fire queue while
	// the mirror says firing: the Fire, asked last, wins.
	s.Fire(a)
	sloWaitFor(t, "firing", func() bool { return s.Firing(a.ID) })
	sloWaitFor(t, "the firing notification", notified(1))
	stop1()
	<-done1
	s.Resolve(a.ID)
	s.Fire(a)
	ready = make(chan struct{})
	go s.run(ctx, ready)
	<-ready
	sloWaitFor(t, "the queue to drain", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.pending) == 0 })
	if !s.Firing(a.ID) {
		t.Fatal("a Fire queued after a Resolve was lost")
	}

	// A Resolve then resolves it, with one notification each way.
	s.Resolve(a.ID)
	sloWaitFor(t, "resolved", func() bool { return !s.Firing(a.ID) })
	sloWaitFor(t, "the resolved notification", notified(2))
	mu.Lock()
	defer mu.Unlock()
	if want := []string{StatusFiring, StatusResolved}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notifications %v, want %v", got, want)
	}
}

// TestAlertStoreDedupesAcrossReplicas: two replicas fire and resolve the
// same alert many times; each transition is notified exactly once.
func TestAlertStoreDedupesAcrossReplicas(t *testing.T) {
	eng := sloTestEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	var stores []*AlertStore
	for range 2 {
		s, err := OpenAlertStore(ctx, eng.JS, 1, newAlertMetrics(nil), sloQuietLog())
		if err != nil {
			t.Fatal(err)
		}
		s.notify = func(st AlertState) {
			mu.Lock()
			got = append(got, st.Status)
			mu.Unlock()
		}
		ready := make(chan struct{})
		go s.run(ctx, ready)
		<-ready
		stores = append(stores, s)
	}
	a := Alert{ID: "slo/x/page", Kind: "slo", Severity: "page", Site: "cloud", Component: "sink/db", Check: "slo/x", Summary: "x"}
	for range 5 {
		stores[0].Fire(a)
		stores[1].Fire(a)
	}
	sloWaitFor(t, "both replicas to see it firing", func() bool { return stores[0].Firing(a.ID) && stores[1].Firing(a.ID) })
	for range 5 {
		stores[0].Resolve(a.ID)
		stores[1].Resolve(a.ID)
	}
	sloWaitFor(t, "both replicas to see it resolved", func() bool { return !stores[0].Firing(a.ID) && !stores[1].Firing(a.ID) })
	sloWaitFor(t, "two notifications", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != StatusFiring || got[1] != StatusResolved {
		t.Errorf("notifications %v, want [firing resolved]", got)
	}
	l := stores[1].List()
	if len(l) != 1 || l[0].Status != StatusResolved || l[0].EndsAt.IsZero() {
		t.Errorf("list %+v", l)
	}
}

// amReceiver is a loopback Alertmanager-style webhook receiver that
// verifies Standard Webhooks signatures and can be told to fail.
type amReceiver struct {
	t      *testing.T
	key    []byte
	mu     sync.Mutex
	fail   bool
	got    []amPayload
	failed int
}

func (r *amReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || req.Header.Get("webhook-signature") != api.WebhookSignature(r.key, id, n, body) {
		r.t.Errorf("bad signature on %s", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		r.failed++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p amPayload
	dec := json.NewDecoder(sloBytesReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		r.t.Errorf("payload: %v", err)
	}
	r.got = append(r.got, p)
}

// TestReceiverRetriesAndSigns: a receiver that fails gets the
// notification again with backoff and, once it answers 2xx, an
// Alertmanager version 4 body naming the alert's location; the
// notification waits in the engine, so a worker started later (another
// replica, after the first died) delivers it.
func TestReceiverRetriesAndSigns(t *testing.T) {
	eng := sloTestEngine(t)
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwZZZZZZZZZZZZ"
	key, err := config.WebhookKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &amReceiver{t: t, key: key, fail: true}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ensureNotifyStream(ctx, eng.JS, 10, 1); err != nil {
		t.Fatal(err)
	}
	m := newAlertMetrics(prometheus.NewRegistry())
	cfg := &config.Receiver{URL: srv.URL, Secret: secret, Timeout: config.Duration(5 * time.Second), RetryFor: config.Duration(time.Minute)}
	r, err := newReceiver("oncall", cfg, "http://stadion.test", eng.JS, m, sloQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	st := AlertState{Alert: Alert{ID: "slo/x/page", Kind: "slo", Severity: "page", Site: "cloud", Component: "subscription/orders", Check: "slo/x", Summary: "burning", StartsAt: time.Now().UTC()}, Status: StatusFiring, UpdatedAt: time.Now()}
	r.enqueue(ctx, st)
	r.enqueue(ctx, st) // the same transition twice: queued once
	go r.run(ctx)
	sloWaitFor(t, "a failed attempt", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return rcv.failed > 0 })
	rcv.mu.Lock()
	rcv.fail = false
	rcv.mu.Unlock()
	sloWaitFor(t, "the retried delivery", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return len(rcv.got) == 1 })
	p := rcv.got[0]
	if p.Version != "4" || p.Status != "firing" || p.Receiver != "oncall" || len(p.Alerts) != 1 || p.ExternalURL != "http://stadion.test" {
		t.Fatalf("payload %+v", p)
	}
	al := p.Alerts[0]
	if al.Labels["component"] != "subscription/orders" || al.Labels["check"] != "slo/x" || al.Labels["severity"] != "page" || al.Fingerprint != Fingerprint("slo/x/page") {
		t.Errorf("alert %+v", al)
	}
	info, err := eng.JS.Stream(ctx, NotifyStream)
	if err != nil {
		t.Fatal(err)
	}
	sloWaitFor(t, "the queue to empty", func() bool { i, _ := info.Info(ctx); return i != nil && i.State.Msgs == 0 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 1 {
		t.Errorf("%d deliveries, want 1", len(rcv.got))
	}
}

// TestReceiverQueueIsBounded: past max_queued the oldest notification is
// discarded by the engine.
func TestReceiverQueueIsBounded(t *testing.T) {
	eng := sloTestEngine(t)
	ctx := context.Background()
	if err := ensureNotifyStream(ctx, eng.JS, 3, 1); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Receiver{URL: "http://127.0.0.1:1", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwZZZZZZZZZZZZ", Timeout: config.Duration(time.Second), RetryFor: config.Duration(time.Second)}
	r, err := newReceiver("full", cfg, "", eng.JS, newAlertMetrics(nil), sloQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r.enqueue(ctx, AlertState{Alert: Alert{ID: strconv.Itoa(i), Kind: "slo", Severity: "page"}, Status: StatusFiring})
	}
	s, err := eng.JS.Stream(ctx, NotifyStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 || info.State.FirstSeq != 3 {
		t.Errorf("%d queued from seq %d; want 3, the oldest two dropped", info.State.Msgs, info.State.FirstSeq)
	}
	if !r.cfg.Accepts("anomaly", "info") {
		t.Error("a receiver without filters takes everything")
	}
}
