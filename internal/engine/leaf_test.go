package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
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

// testCert makes a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloud"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestLeafTLS: a hub with a TLS leafnode listener links a spoke that
// dials tls:// and trusts its certificate, and no plain or untrusting one.
func TestLeafTLS(t *testing.T) {
	cert, pool := testCert(t)
	hub, _ := startEngine(t, Options{LeafAddr: "127.0.0.1:0", Domain: "hub",
		LeafTLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	hub.SetLeafAuthorizer(leafAuth{"a": "pw"})
	port := portOf(t, hub.LeafURL())
	dial := func(name, url string, cfg *tls.Config) *Engine {
		e, _ := startEngine(t, Options{Name: name, Domain: name, Leaf: &LeafRemote{URL: url, User: "a", Password: "pw", TLS: cfg}})
		return e
	}
	if !linked(dial("trusting", "tls://127.0.0.1:"+port, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), 10*time.Second) {
		t.Fatal("a spoke trusting the hub's certificate did not link over TLS")
	}
	if linked(dial("plain", "nats://127.0.0.1:"+port, nil), time.Second) {
		t.Error("a plain spoke linked to a TLS listener")
	}
	if linked(dial("untrusting", "tls://127.0.0.1:"+port, nil), time.Second) {
		t.Error("a spoke that does not trust the certificate linked")
	}
}

// leafIDs lists the hub's leafnode connection ids by the spoke's server
// name.
func leafIDs(t *testing.T, hub *Engine) map[string]uint64 {
	t.Helper()
	lz, err := hub.srv.Leafz(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, l := range lz.Leafs {
		out[l.Name] = l.ID
	}
	return out
}

// TestCloseLeafsClosesOneUsersLinks: CloseLeafs closes the links admitted
// as one user and no other.
func TestCloseLeafsClosesOneUsersLinks(t *testing.T) {
	hub, _ := startEngine(t, Options{LeafAddr: "127.0.0.1:0", Domain: "hub"})
	hub.SetLeafAuthorizer(leafAuth{"a": "pw", "b": "pw"})
	dial := func(name, user string) *Engine {
		e, _ := startEngine(t, Options{Name: name, Domain: name, Leaf: &LeafRemote{URL: hub.LeafURL(), User: user, Password: "pw"}})
		return e
	}
	a, b := dial("spoke-a", "a"), dial("spoke-b", "b")
	if !linked(a, 10*time.Second) || !linked(b, 10*time.Second) {
		t.Fatal("spokes did not link")
	}
	var before map[string]uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if before = leafIDs(t, hub); len(before) == 2 {
			break
		}
	}
	if n := hub.CloseLeafs("venue:a"); n != 1 {
		t.Fatalf("closed %d links, want 1", n)
	}
	after := leafIDs(t, hub)
	if after["spoke-a"] == before["spoke-a"] {
		t.Error("spoke-a's link is still the same connection")
	}
	if after["spoke-b"] != before["spoke-b"] {
		t.Error("spoke-b's link was closed too")
	}
	if n := hub.CloseLeafs("venue:nobody"); n != 0 {
		t.Errorf("closed %d links of an unknown user", n)
	}
}

// TestLeafRemoteFailsOverBetweenCloudURLs: an edge given several cloud
// URLs links through whichever answers, and relinks to another when the
// node it used stops.
func TestLeafRemoteFailsOverBetweenCloudURLs(t *testing.T) {
	var hubs []*Engine
	for _, name := range []string{"hub-a", "hub-b"} {
		h, _ := startEngine(t, Options{Name: name, LeafAddr: "127.0.0.1:0", Domain: "hub"})
		h.SetAuthorizer(&fakeAuth{})
		h.SetLeafAuthorizer(leafAuth{"a": "pw"})
		hubs = append(hubs, h)
	}
	// A dead address first: the edge must move on to a live one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + ln.Addr().String()
	ln.Close()
	urls := dead + "," + hubs[0].LeafURL() + "," + hubs[1].LeafURL()
	edge, _ := startEngine(t, Options{Name: "edge", Domain: "edge", Leaf: &LeafRemote{URL: urls, User: "a", Password: "pw"}})
	if !linked(edge, 30*time.Second) {
		t.Fatal("no link through the live cloud URLs")
	}
	var used, other *Engine
	deadline := time.Now().Add(30 * time.Second)
	for used == nil && time.Now().Before(deadline) {
		for i, h := range hubs {
			if h.srv.NumLeafNodes() > 0 {
				used, other = h, hubs[1-i]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if used == nil {
		t.Fatal("no hub counts the edge's link")
	}
	used.srv.Shutdown()
	deadline = time.Now().Add(30 * time.Second)
	for other.srv.NumLeafNodes() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the edge did not relink to the other cloud node")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeafRemoteURLsMustAgreeOnTLS(t *testing.T) {
	if _, err := serverOptions(Options{Leaf: &LeafRemote{URL: "nats://a:7422,tls://b:7422"}}); err == nil {
		t.Error("mixed nats:// and tls:// accepted")
	}
	if _, err := serverOptions(Options{Leaf: &LeafRemote{URL: "nats://a:7422, nats://b:7422"}}); err != nil {
		t.Errorf("two cloud URLs refused: %v", err)
	}
}
