package config

import (
	"strings"
	"testing"
)

func TestPlans(t *testing.T) {
	c, err := Parse([]byte(`plans:
  storm:
    description: d
    limits:
      bots: {match: {user_agent: "^BadBot/"}, rate: "0"}
      anon: {match: {route: CONNECT, anonymous: true}, rate: 2000/s, scope: cluster}
`), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Plans["storm"].Limits["anon"]; l.Rate != "2000/s" || !l.Match.Anonymous || l.Scope != "cluster" {
		t.Fatalf("anon = %+v", l)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"plans: {Storm: {limits: {a: {rate: 1/s}}}}", "plans.Storm: name must be"},
		{"plans: {storm: {limits: {}}}", "plans.storm.limits: a plan needs at least one limit"},
		{"plans: {storm: {limits: {a.b: {rate: 1/s}}}}", "plans.storm.limits.a.b: name must be"},
		{"plans: {storm: {limits: {a: {rate: 1/s, colour: red}}}}", "colour"},
	} {
		if _, err := Parse([]byte(tc.yaml), nil, "."); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
