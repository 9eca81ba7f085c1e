package engine

import (
	"testing"
	"time"
)

type leafAuth map[string]string // user -> password

func (a leafAuth) LeafAuthorize(user, password string) (string, *Permissions, bool) {
	if want, ok := a[user]; !ok || want != password {
		return "", nil, false
	}
	return "venue:" + user, &Permissions{Publish: []string{"gate." + user + ".>"}, Subscribe: []string{"gate." + user + ".>"}}, true
}

// linked reports whether spoke gets a leafnode link to hub within d.
func linked(spoke *Engine, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if spoke.LeafConnected() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestLeafnodesNeedTheLeafAuthorizer: the leafnode port admits nobody
// until SetLeafAuthorizer, then only users it accepts; client keys (the
// client authorizer) never open it.
func TestLeafnodesNeedTheLeafAuthorizer(t *testing.T) {
	hub, _ := startEngine(t, Options{LeafAddr: "127.0.0.1:0", Domain: "hub"})
	hub.SetAuthorizer(&fakeAuth{})
	dial := func(name, user, pass string) *Engine {
		e, _ := startEngine(t, Options{Name: name, Domain: name, Leaf: &LeafRemote{URL: hub.LeafURL(), User: user, Password: pass}})
		return e
	}
	if linked(dial("before", "a", "pw"), time.Second) {
		t.Fatal("a leafnode linked before SetLeafAuthorizer")
	}
	hub.SetLeafAuthorizer(leafAuth{"a": "pw"})
	if !linked(dial("good", "a", "pw"), 10*time.Second) {
		t.Fatal("a leafnode with good credentials did not link")
	}
	for name, up := range map[string][2]string{"wrong": {"a", "nope"}, "client-key": {"reader", readerToken}} {
		if linked(dial(name, up[0], up[1]), time.Second) {
			t.Errorf("%s: linked", name)
		}
	}
	if hub.Domain() != "hub" {
		t.Errorf("domain %q", hub.Domain())
	}
}

func TestLeafRemoteURLIsChecked(t *testing.T) {
	for _, u := range []string{"http://cloud:7422", "cloud:7422", "nats://"} {
		if _, err := serverOptions(Options{Leaf: &LeafRemote{URL: u}}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
