package limits

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func must(t *testing.T, name string, s Spec) *limit {
	t.Helper()
	s, err := Normalize(s, time.Now())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	l, err := compile(name, s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

func names(ls []*limit) map[string]bool {
	out := map[string]bool{}
	for _, l := range ls {
		out[l.name] = true
	}
	return out
}

func TestMatch(t *testing.T) {
	specs := map[string]Spec{
		"badbot":    {Match: Match{UserAgent: "^BadBot/"}, Rate: "1/s"},
		"anyscript": {Match: Match{UserAgent: `(?i)python-requests`}, Rate: "1/s"},
		"odf":       {Match: Match{Client: "odf"}, Rate: "1/s"},
		"odf-posts": {Match: Match{Client: "odf", Route: "POST /v1/topics/*/events"}, Rate: "1/s"},
		"key":       {Match: Match{KeyID: "00ff"}, Rate: "1/s"},
		"net":       {Match: Match{Source: "203.0.113.0/24"}, Rate: "1/s"},
		"host6":     {Match: Match{Source: "2001:db8::1"}, Rate: "1/s"},
		"posts":     {Match: Match{Route: "POST /v1/topics/*/events"}, Rate: "1/s"},
		"anyget":    {Match: Match{Route: "/v1/health/**"}, Rate: "1/s"},
		"connects":  {Match: Match{Route: "CONNECT", Anonymous: true}, Rate: "1/s"},
		"comments":  {Match: Match{Route: "PUBLISH live/+/post"}, Rate: "1/5s", Per: "user"},
		"alice":     {Match: Match{MQTTUser: "alice"}, Rate: "1/s"},
		"venue":     {Match: Match{Venue: "ice-arena"}, Rate: "1/s"},
		"all":       {Rate: "1000/s", Action: ActionShadow},
	}
	var ls []*limit
	for n, s := range specs {
		ls = append(ls, must(t, n, s))
	}
	set := newSet(ls)
	addr := netip.MustParseAddr
	cases := []struct {
		name string
		r    Request
		want []string
	}{
		{"user agent prefix", Request{Method: "GET", Path: "/v1/topics", UserAgent: "BadBot/2.1"}, []string{"badbot", "all"}},
		{"prefix not at start", Request{Method: "GET", Path: "/v1/topics", UserAgent: "Mozilla BadBot/2.1"}, []string{"all"}},
		{"unanchored, case folded", Request{Method: "GET", Path: "/x", UserAgent: "Python-Requests/2.31"}, []string{"anyscript", "all"}},
		{"client and route", Request{Method: "POST", Path: "/v1/topics/results/events", Client: "odf"}, []string{"odf", "odf-posts", "posts", "all"}},
		{"client other route", Request{Method: "GET", Path: "/v1/topics/results/events", Client: "odf"}, []string{"odf", "all"}},
		{"route one segment only", Request{Method: "POST", Path: "/v1/topics/a/b/events"}, []string{"all"}},
		{"any method, rest", Request{Method: "DELETE", Path: "/v1/health/x/y"}, []string{"anyget", "all"}},
		{"key id", Request{Method: "GET", Path: "/", KeyID: "00ff"}, []string{"key", "all"}},
		{"network", Request{Method: "GET", Path: "/", Source: addr("203.0.113.77")}, []string{"net", "all"}},
		{"outside network", Request{Method: "GET", Path: "/", Source: addr("203.0.114.1")}, []string{"all"}},
		{"ipv6 host", Request{Method: "GET", Path: "/", Source: addr("2001:db8::1")}, []string{"host6", "all"}},
		{"anonymous connect", Request{Method: MethodConnect, Anonymous: true}, []string{"connects", "all"}},
		{"viewer connect", Request{Method: MethodConnect, MQTTUser: "alice"}, []string{"alice", "all"}},
		{"post", Request{Method: MethodPublish, Path: "live/ice/post", MQTTUser: "bob"}, []string{"comments", "all"}},
		{"any-method route skips MQTT", Request{Method: MethodPublish, Path: "v1/health/x"}, []string{"all"}},
		{"venue", Request{Method: "GET", Path: "/v1/venues/ice-arena/status", Venue: "ice-arena"}, []string{"venue", "all"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := names(set.candidates(&c.r, nil))
			if len(got) != len(c.want) {
				t.Fatalf("matched %v, want %v", got, c.want)
			}
			for _, w := range c.want {
				if !got[w] {
					t.Fatalf("matched %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	lm := NewLimiter(nil, nil)
	lm.install([]*limit{
		must(t, "wide", Spec{Match: Match{Route: "POST /v1/topics/*/events"}, Rate: "5/h", Burst: 5}),
		must(t, "narrow", Spec{Match: Match{Route: "POST /v1/topics/*/events", Client: "oms"}, Rate: "2/h", Burst: 2}),
		must(t, "vip", Spec{Match: Match{Client: "odf"}, Rate: "100/h", Burst: 100, Replaces: []string{"wide"}}),
		must(t, "watch", Spec{Match: Match{Client: "oms"}, Rate: "1/h", Burst: 1, Action: ActionShadow}),
	})
	post := func(client string) Decision {
		return lm.Check(&Request{Method: "POST", Path: "/v1/topics/t/events", Client: client})
	}
	// oms: the narrow limit (2) refuses before the wide one (5); the shadow
	// one (1) only counts.
	for i := range 2 {
		if d := post("oms"); d.Refused {
			t.Fatalf("oms request %d refused by %s", i, d.Limit)
		}
	}
	if d := post("oms"); !d.Refused || d.Limit != "narrow" || d.RetryAfter <= 0 {
		t.Fatalf("third oms request: %+v, want refused by narrow with a wait", d)
	}
	// odf: vip replaces wide, so odf gets 100 although wide allows 5
	for i := range 20 {
		if d := post("odf"); d.Refused {
			t.Fatalf("odf request %d refused by %s (vip replaces wide)", i, d.Limit)
		}
	}
	// others: wide has spent 3 of its 5 on oms
	for i := range 2 {
		if d := post("x"); d.Refused {
			t.Fatalf("x request %d refused by %s", i, d.Limit)
		}
	}
	if d := post("x"); !d.Refused || d.Limit != "wide" {
		t.Fatalf("sixth request on wide: %+v", d)
	}
	c := lm.Counts()
	if c["watch"].ShadowLimited != 2 || c["watch"].Limited != 0 || c["watch"].Matched != 3 {
		t.Fatalf("shadow counts %+v, want 3 matched, 2 shadow-limited, 0 limited", c["watch"])
	}
	if c["narrow"].Limited != 1 || c["wide"].Limited != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func TestPerAndConcurrency(t *testing.T) {
	lm := NewLimiter(nil, nil)
	lm.install([]*limit{
		must(t, "per-user", Spec{Match: Match{Route: "PUBLISH live/*/post"}, Rate: "1/5s", Per: "user"}),
		must(t, "streams", Spec{Match: Match{Route: "GET /v1/topics/*/stream"}, Concurrency: 2, Per: "client"}),
		must(t, "blocked", Spec{Match: Match{Client: "demo"}, Rate: "0"}),
	})
	post := func(u string) bool {
		d := lm.Check(&Request{Method: MethodPublish, Path: "live/r/post", MQTTUser: u})
		return !d.Refused
	}
	if !post("a") || post("a") || !post("b") {
		t.Fatal("per user: a's first post passes, its second is refused, b has a bucket of its own")
	}
	var held []Decision
	for range 2 {
		d := lm.Check(&Request{Method: "GET", Path: "/v1/topics/t/stream", Client: "screens"})
		if d.Refused {
			t.Fatal("stream within the cap refused")
		}
		held = append(held, d)
	}
	if d := lm.Check(&Request{Method: "GET", Path: "/v1/topics/t/stream", Client: "screens"}); !d.Refused {
		t.Fatal("third stream of screens allowed")
	}
	if d := lm.Check(&Request{Method: "GET", Path: "/v1/topics/t/stream", Client: "other"}); d.Refused {
		t.Fatal("another client's stream refused")
	} else {
		d.Done()
	}
	held[0].Done()
	if d := lm.Check(&Request{Method: "GET", Path: "/v1/topics/t/stream", Client: "screens"}); d.Refused {
		t.Fatal("a stream after one ended refused")
	}
	if d := lm.Check(&Request{Method: "GET", Path: "/", Client: "demo"}); !d.Refused || d.Limit != "blocked" {
		t.Fatalf("blocked client: %+v", d)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		spec  Spec
		field string
	}{
		{Spec{}, "rate"},
		{Spec{Rate: "fast"}, "rate"},
		{Spec{Rate: "0/s"}, "rate"},
		{Spec{Rate: "1/s", Action: "drop"}, "action"},
		{Spec{Rate: "1/s", Per: "planet"}, "per"},
		{Spec{Rate: "1/s", Match: Match{UserAgent: "(unclosed"}}, "match.user_agent"},
		{Spec{Rate: "1/s", Match: Match{Source: "10.0.0.0/33"}}, "match.source"},
		{Spec{Rate: "1/s", Match: Match{Route: "post /x"}}, "match.route"},
		{Spec{Rate: "1/s", Match: Match{Route: "GET x"}}, "match.route"},
		{Spec{Rate: "1/s", Match: Match{Route: "GET /a/**/b"}}, "match.route"},
		{Spec{Rate: "1/s", Match: Match{Anonymous: true, MQTTUser: "x"}}, "match.anonymous"},
		{Spec{Rate: "1/s", TTL: "forever"}, "ttl"},
		{Spec{Rate: "1/s", Scope: "planet"}, "scope"},
	}
	for _, c := range cases {
		_, err := Normalize(c.spec, time.Now())
		fe, ok := err.(*fieldError)
		if !ok || fe.field != c.field {
			t.Errorf("%+v: error %v, want one in %s", c.spec, err, c.field)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"10/s": 10, "1/5s": 0.2, "100/min": 100.0 / 60, "3/h": 3.0 / 3600, "5/100ms": 50} {
		c, p, err := ParseRate(in)
		if err != nil || float64(c)/p.Seconds() != want {
			t.Errorf("%s: %d/%s %v, want %g/s", in, c, p, err, want)
		}
	}
}

func TestAnchoredPrefix(t *testing.T) {
	for in, want := range map[string]string{"^BadBot/": "BadBot/", "^BadBot/[0-9]+": "BadBot/", "BadBot": "", "(?i)^badbot": "", "^(a|b)": "", `^curl/7\.`: "curl/7."} {
		if got := anchoredPrefix(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestClusterScopeDividesAmongProcesses(t *testing.T) {
	peers := 4
	lm := NewLimiter(nil, func() int { return peers })
	if err := lm.Load(map[string]Spec{
		"anon":  {Match: Match{Route: "CONNECT", Anonymous: true}, Rate: "8/h", Burst: 8, Scope: ScopeCluster},
		"local": {Match: Match{Route: "CONNECT", MQTTUser: "u"}, Rate: "8/h", Burst: 8},
	}); err != nil {
		t.Fatal(err)
	}
	allowed := func(r Request) int {
		n := 0
		for range 20 {
			if d := lm.Check(&r); !d.Refused {
				n++
			}
		}
		return n
	}
	if n := allowed(Request{Method: MethodConnect, Anonymous: true}); n != 2 {
		t.Fatalf("cluster scope with 4 processes let %d of 8 through here, want 2", n)
	}
	if n := allowed(Request{Method: MethodConnect, MQTTUser: "u"}); n != 8 {
		t.Fatalf("process scope let %d through, want 8", n)
	}
}

func TestExpiresInThePastRefused(t *testing.T) {
	past := time.Now().Add(-time.Minute)
	if _, err := Normalize(Spec{Rate: "1/s", Expires: &past}, time.Now()); err == nil {
		t.Fatal("a limit that expired before it was set was accepted")
	}
}

func TestPerValuesAreBounded(t *testing.T) {
	lm := NewLimiter(nil, nil)
	if err := lm.Load(map[string]Spec{"ua": {Match: Match{Route: "GET /x"}, Rate: "1/h", Burst: 1, Per: "user_agent"}}); err != nil {
		t.Fatal(err)
	}
	for i := range maxPerKeys + 50 {
		if d := lm.Check(&Request{Method: "GET", Path: "/x", UserAgent: fmt.Sprint("agent-", i)}); d.Refused && i < maxPerKeys {
			t.Fatalf("agent %d refused on its first request", i)
		}
	}
	st := lm.cur.Load().byName["ua"].state
	if len(st.keys) > maxPerKeys {
		t.Fatalf("%d values tracked, cap %d", len(st.keys), maxPerKeys)
	}
	// past the cap, new values share the overflow bucket (one token)
	refused := 0
	for i := range 10 {
		if lm.Check(&Request{Method: "GET", Path: "/x", UserAgent: fmt.Sprint("late-", i)}).Refused {
			refused++
		}
	}
	if refused < 9 {
		t.Fatalf("%d of 10 new values refused past the cap, want at least 9 (they share a bucket)", refused)
	}
}
