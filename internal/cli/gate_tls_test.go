package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files into dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
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
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cloud.crt"), filepath.Join(dir, "cloud.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestEdgeLinksOverTLS: with --leaf-cert/--leaf-key the cloud's leafnode
// port speaks TLS, and an edge dialing tls:// with --cloud-ca links.
func TestEdgeLinksOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	p := startProc(t, dir+"/cloud", "--config", "testdata/gate/stadion.yaml", "--leaf", "127.0.0.1:0",
		"--leaf-cert", cert, "--leaf-key", key)
	raw, _ := os.ReadFile(filepath.Join(dir, "cloud", client.EndpointsFile))
	var ep client.Endpoints
	_ = json.Unmarshal(raw, &ep)
	u, err := url.Parse(ep.Leaf)
	if err != nil || u.Scheme != "tls" {
		t.Fatalf("leaf URL %q, want tls://", ep.Leaf)
	}
	cloud := &gateCloud{proc: p, leaf: u.Host}
	creds := cloud.credsFile(t, "bird-nest", dir)
	edge := startEdgeProcArgs(t, dir+"/edge", "bird-nest", "tls://"+u.Host, creds, "--cloud-ca", cert)
	waitFor(t, "the edge linked over TLS", func() bool { return edgeStatus(t, edge).Link == "up" })
	waitFor(t, "the cloud to see the edge's heartbeats", func() bool {
		out, _, _ := runCLI(t, cloud.proc, "venue", "list")
		return strings.Contains(out, "bird-nest  up")
	})
}
