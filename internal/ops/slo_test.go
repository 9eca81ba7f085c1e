package ops

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
)

const sloTestConfig = `
slo_policy:
  interval: 1s
  resolution: 1s
  min_events: 10
  burns:
    - {severity: page, long: 20s, short: 5s, factor: 5}
slos:
  orders-delivery:
    objective: 0.9
    window: 30d
    indicator:
      builtin: delivery_success
      subscription: orders
`

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func pushCounter(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stadion_subscription_pushes_total", Help: "test"}, []string{"subscription", "outcome"})
	reg.MustRegister(c)
	return c
}

// TestSLOsShareCountsAndBurn runs two replicas over one engine: each
// counts its own pushes, the burn is computed from both, fires when both
// windows burn and resolves once the short window has recovered.
func TestSLOsShareCountsAndBurn(t *testing.T) {
	eng := sloTestEngine(t)
	cfg := parseConfig(t, sloTestConfig)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	type replica struct {
		s      *SLOs
		pushes *prometheus.CounterVec
		rec    *alertRecorder
	}
	var rs []replica
	for range 2 {
		reg := prometheus.NewRegistry()
		rec := &alertRecorder{}
		s, err := NewSLOs(ctx, cfg, eng.JS, reg, rec, nil, sloQuietLog())
		if err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		wctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		if err := s.store.watch(wctx, ready); err != nil {
			t.Fatal(err)
		}
		<-ready
		s.now = func() time.Time { return now }
		rs = append(rs, replica{s, pushCounter(reg), rec})
	}
	step := func(ok0, failed0, ok1, failed1 float64) {
		rs[0].pushes.WithLabelValues("orders", "ok").Add(ok0)
		rs[0].pushes.WithLabelValues("orders", "failed").Add(failed0)
		rs[1].pushes.WithLabelValues("orders", "ok").Add(ok1)
		rs[1].pushes.WithLabelValues("orders", "failed").Add(failed1)
		for _, r := range rs {
			r.s.Tick(ctx)
		}
		now = now.Add(time.Second)
	}
	// 20 s of healthy traffic on both replicas: 10 events/s, no failure.
	for range 20 {
		step(5, 0, 5, 0)
	}
	st := rs[1].s.Status()[0]
	if st.Events.Total < 190 || st.Budget != 1 || len(st.Firing) != 0 {
		t.Fatalf("healthy: %+v", st)
	}
	// Replica 0's receiver fails everything for 20 s: half the events are
	// bad, an error ratio of 0.5 against a budget of 0.1 is a burn of 5.
	// Replica 1 must see it.
	for range 20 {
		step(0, 5, 5, 0)
	}
	sloWaitFor(t, "replica 1 to see the shared burn", func() bool {
		rs[1].s.Tick(ctx)
		return rs[1].rec.firing()["slo/orders-delivery/page"]
	})
	a := rs[1].rec.last["slo/orders-delivery/page"]
	if a.Kind != "slo" || a.Component != "subscription/orders" || a.Check != "slo/orders-delivery" || a.Severity != "page" {
		t.Errorf("alert not located: %+v", a)
	}
	st = rs[1].s.Status()[0]
	if b := st.Burns[0]; b.LongBurn < 4.9 || b.ShortBurn < 4.9 {
		t.Errorf("burns %+v, want about 5", b)
	}
	// Fixed: after the short window is clean again the page resolves
	// (two clean evaluations in a row).
	for range 8 {
		step(5, 0, 5, 0)
	}
	if rs[1].rec.firing()["slo/orders-delivery/page"] {
		t.Errorf("page still firing after recovery: %v", rs[1].rec.events)
	}
	// The 30-day budget: 100 bad of 480 against 10%: overspent.
	st = rs[1].s.Status()[0]
	if !st.Exhausted || st.Budget >= 0 {
		t.Errorf("budget %.3f exhausted=%v, want overspent", st.Budget, st.Exhausted)
	}
	if !rs[1].rec.firing()["budget/orders-delivery"] {
		t.Errorf("no budget alert: %v", rs[1].rec.events)
	}
}

// TestSLOLowTrafficHoldsBurn: three events with one failure burn 3.3x a
// 90% objective's budget, but fewer than min_events never page.
func TestSLOLowTrafficHoldsBurn(t *testing.T) {
	cfg := parseConfig(t, sloTestConfig)
	reg := prometheus.NewRegistry()
	rec := &alertRecorder{}
	s, err := NewSLOs(context.Background(), cfg, nil, reg, rec, nil, sloQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	pushes := pushCounter(reg)
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	pushes.WithLabelValues("orders", "ok").Add(2)
	pushes.WithLabelValues("orders", "failed").Add(1)
	s.Tick(context.Background())
	st := s.Status()[0]
	if !st.Burns[0].LowTraffic || st.Burns[0].Firing || len(rec.firing()) != 0 {
		t.Errorf("low traffic fired: %+v %v", st.Burns[0], rec.events)
	}
}
