package limits_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
	"github.com/stadion-dev/stadion/internal/limits"
)

// replica is one process's limits service on a shared engine.
func replica(t *testing.T, url string, cfg *config.Config, peers int) *limits.Service {
	t.Helper()
	nc, js := enginetest.Connect(t, url)
	s, err := limits.New(cfg, nc, js, nil, limits.Options{Peers: func() int { return peers }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func badBot(ua string) *limits.Request {
	return &limits.Request{Method: "GET", Path: "/v1/topics", UserAgent: ua, Source: netip.MustParseAddr("127.0.0.1")}
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func plansConfig() *config.Config {
	return &config.Config{Plans: map[string]*config.Plan{
		"storm": {Description: "test", Limits: map[string]*config.LimitSpec{
			"bots":  {Match: config.LimitMatch{UserAgent: "^BadBot/"}, Rate: "0"},
			"posts": {Match: config.LimitMatch{Route: "POST /v1/topics/*/events"}, Rate: "10/s", Per: "client"},
		}},
	}}
}

func TestReplicasFollowTheBucket(t *testing.T) {
	ns := enginetest.Server(t)
	a := replica(t, ns.ClientURL(), plansConfig(), 2)
	b := replica(t, ns.ClientURL(), plansConfig(), 2)
	ctx := context.Background()
	if _, _, err := a.Set(ctx, "badbot", limits.Spec{Match: limits.Match{UserAgent: "^BadBot/"}, Rate: "1/h", Burst: 1}, "admin/x"); err != nil {
		t.Fatal(err)
	}
	lb := b.Limiter()
	eventually(t, "the other replica refuses BadBot", func() bool {
		d1 := lb.Check(badBot("BadBot/1"))
		return d1.Refused && d1.Limit == "badbot"
	})
	if d := lb.Check(badBot("GoodBrowser/1")); d.Refused {
		t.Fatalf("another agent refused by %s", d.Limit)
	}
	// shadow: counts, never refuses
	if _, _, err := a.Set(ctx, "badbot", limits.Spec{Match: limits.Match{UserAgent: "^BadBot/"}, Rate: "1/h", Burst: 1, Action: "shadow"}, "admin/x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shadow reaches the other replica", func() bool { r, _ := b.Get("badbot"); return r.Action == "shadow" })
	before := lb.Counts()["badbot"].ShadowLimited
	for range 5 {
		if d := lb.Check(badBot("BadBot/1")); d.Refused {
			t.Fatalf("shadow limit refused (%s)", d.Limit)
		}
	}
	if got := lb.Counts()["badbot"].ShadowLimited - before; got != 5 {
		t.Fatalf("shadow-limited %d, want 5", got)
	}
	stats, n, err := a.Stats(ctx)
	if err != nil || n != 2 || stats["badbot"].ShadowLimited < 5 {
		t.Fatalf("stats from %d processes: %+v %v", n, stats, err)
	}
	// expiry removes it everywhere, from the bucket too
	if _, _, err := a.Set(ctx, "badbot", limits.Spec{Match: limits.Match{UserAgent: "^BadBot/"}, Rate: "0", TTL: "1s"}, "admin/x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the expiring block refuses on the other replica", func() bool { return lb.Check(badBot("BadBot/1")).Refused })
	eventually(t, "the limit expires everywhere", func() bool {
		_, inA := a.Get("badbot")
		_, inB := b.Get("badbot")
		return !inA && !inB && !lb.Check(badBot("BadBot/1")).Refused
	})
	// a restarted replica loads what is in force
	if _, _, err := a.Set(ctx, "keep", limits.Spec{Match: limits.Match{Client: "demo"}, Rate: "0"}, "admin/x"); err != nil {
		t.Fatal(err)
	}
	c := replica(t, ns.ClientURL(), plansConfig(), 3)
	if d := c.Limiter().Check(&limits.Request{Method: "GET", Path: "/", Client: "demo"}); !d.Refused {
		t.Fatal("a new replica does not enforce the stored limit")
	}
}

func TestPlanApplyRevertAndDryRun(t *testing.T) {
	ns := enginetest.Server(t)
	a := replica(t, ns.ClientURL(), plansConfig(), 2)
	b := replica(t, ns.ClientURL(), plansConfig(), 2)
	ctx := context.Background()
	// traffic on both replicas: 30 BadBot requests, 5 posts by one client
	for range 15 {
		a.Limiter().Check(badBot("BadBot/9"))
		b.Limiter().Check(badBot("BadBot/9"))
	}
	d, err := a.Preview(ctx, "storm")
	if err != nil {
		t.Fatal(err)
	}
	if d.Answers != 2 || len(d.Changes) != 2 || d.Changes[0].Limit != "storm.bots" || d.Changes[0].Change != "add" {
		t.Fatalf("dry run %+v", d)
	}
	if e := d.Changes[0].Estimate; e.Matched != 30 || e.Refused != 30 {
		t.Fatalf("bots estimate %+v, want 30 matched and refused (both replicas' traffic)", e)
	}
	if len(a.List()) != 0 {
		t.Fatal("a dry run changed the limits")
	}
	ev, err := a.Apply(ctx, "storm", "admin/k1")
	if err != nil || len(ev.Limits) != 2 {
		t.Fatalf("apply: %+v %v", ev, err)
	}
	eventually(t, "the plan reaches the other replica", func() bool { return b.Limiter().Check(badBot("BadBot/9")).Refused })
	ps, err := b.Plans(ctx)
	if err != nil || len(ps) != 1 || !ps[0].Applied || ps[0].Last.By != "admin/k1" {
		t.Fatalf("plans %+v %v", ps, err)
	}
	if _, err := b.Revert(ctx, "storm", "admin/k2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the revert reaches the first replica", func() bool { return !a.Limiter().Check(badBot("BadBot/9")).Refused })
	h, err := a.History(ctx, "storm")
	if err != nil || len(h) != 2 || h[0].Action != "applied" || h[1].Action != "reverted" || h[1].By != "admin/k2" {
		t.Fatalf("history %+v %v", h, err)
	}
	if _, err := a.Apply(ctx, "nope", "admin/k1"); err == nil {
		t.Fatal("applied a plan that does not exist")
	}
}

func TestBadPlanStopsStart(t *testing.T) {
	cfg := &config.Config{Plans: map[string]*config.Plan{"p": {Limits: map[string]*config.LimitSpec{"x": {Rate: "lots"}}}}}
	err := limits.CheckPlans(cfg)
	if err == nil || err.Error() != `plans.p.limits.x.rate: "lots" is not COUNT/PERIOD (e.g. 10/s, 1/5s, 100/min)` {
		t.Fatalf("error %v", err)
	}
}
