package limits

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
)

// FuzzSpec feeds arbitrary bodies of PUT /v1/limits/{name} through the
// strict decoder, the compiler and the matcher: nothing may panic, and a
// spec that compiles must survive a request built from its own match.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{
		`{"match":{"user_agent":"^BadBot/"},"rate":"1/s","burst":1,"action":"enforce"}`,
		`{"match":{"route":"POST /v1/topics/*/events","client":"odf"},"rate":"10/s","per":"client"}`,
		`{"match":{"route":"PUBLISH live/+/post"},"rate":"1/5s","per":"user","ttl":"10m"}`,
		`{"match":{"route":"CONNECT","anonymous":true},"rate":"2000/s","scope":"cluster"}`,
		`{"match":{"source":"2001:db8::/32"},"concurrency":4,"action":"shadow"}`,
		`{"match":{"route":"/v1/**"},"rate":"0","replaces":["a","b.c"]}`,
		`{"rate":"5/100ms","burst":0}`,
		`{"match":{"user_agent":"(?i)^x{2,1000}"},"rate":"1/h"}`,
	} {
		f.Add([]byte(s), "GET", "/v1/topics/x/events", "BadBot/1")
	}
	f.Fuzz(func(t *testing.T, body []byte, method, path, ua string) {
		var s Spec
		if api.Unmarshal(body, &s) != nil {
			return
		}
		s, err := Normalize(s, time.Now())
		if err != nil {
			return
		}
		l, err := compile("fuzz", s)
		if err != nil {
			t.Fatalf("normalized spec does not compile: %v", err)
		}
		lm := NewLimiter(nil, nil)
		lm.install([]*limit{l})
		r := Request{Method: method, Path: path, UserAgent: ua, Client: s.Match.Client, KeyID: s.Match.KeyID,
			MQTTUser: s.Match.MQTTUser, Anonymous: s.Match.Anonymous, Venue: s.Match.Venue, Source: netip.MustParseAddr("192.0.2.1")}
		if l.source.IsValid() {
			r.Source = l.source.Addr()
		}
		d := lm.Check(&r)
		d.Done()
		if l.route != nil && len(l.route.segs) > 0 {
			// the pattern's own path, wildcards filled, must match
			p := ""
			for _, g := range l.route.segs {
				switch g {
				case "*":
					g = "x"
				case "**":
					g = "y/z"
				}
				p += "/" + g
			}
			r.Path, r.Method = p, l.route.method
			if r.Method == MethodPublish {
				r.Path = p[1:]
			}
			if r.Method == "" {
				r.Method = "GET"
			}
			if l.ua == nil && !l.matches(&r) {
				t.Fatalf("route %+v does not match its own path %q", l.route, r.Path)
			}
		}
	})
}
