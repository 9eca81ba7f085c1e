package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/gate"
)

// gateCloud runs `stadion up` with the gate tests' configuration and a
// leafnode port.
type gateCloud struct {
	*proc
	leaf string // host:port of the leafnode listener
}

func startGateCloud(t *testing.T, data string) *gateCloud {
	t.Helper()
	return startGateCloudConfig(t, data, "testdata/gate/stadion.yaml")
}

// startGateCloudConfig is startGateCloud with another configuration file.
func startGateCloudConfig(t *testing.T, data, config string) *gateCloud {
	t.Helper()
	p := startProc(t, data, "--config", config, "--leaf", "127.0.0.1:0")
	raw, err := os.ReadFile(filepath.Join(data, client.EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ep client.Endpoints
	if err := json.Unmarshal(raw, &ep); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(ep.Leaf)
	if err != nil || u.Host == "" {
		t.Fatalf("leaf URL %q: %v", ep.Leaf, err)
	}
	return &gateCloud{proc: p, leaf: u.Host}
}

// credsFile writes venue's credentials into dir and returns the path.
func (c *gateCloud) credsFile(t *testing.T, venue, dir string) string {
	t.Helper()
	var cr gate.Credentials
	if code := c.request("POST", "/v1/venues/"+venue+"/credentials", c.admin, "", &cr); code != http.StatusCreated {
		t.Fatalf("credentials of %s: %d", venue, code)
	}
	raw, _ := json.Marshal(cr)
	path := filepath.Join(dir, venue+".creds")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue issues n tickets of one session at venue, in batches.
func (c *gateCloud) issue(t *testing.T, venue string, n int) []gate.Issued {
	t.Helper()
	now := time.Now().UTC()
	var out []gate.Issued
	for len(out) < n {
		reqs := make([]gate.TicketRequest, min(gate.MaxBatch, n-len(out)))
		for i := range reqs {
			reqs[i] = gate.TicketRequest{Venue: venue, Session: "CER-OPENING", ValidFrom: now.Add(-time.Hour),
				ValidUntil: now.Add(6 * time.Hour), Zone: "N", Seat: fmt.Sprintf("S-%d", len(out)+i)}
		}
		body, _ := json.Marshal(map[string]any{"tickets": reqs})
		var page struct{ Tickets []gate.Issued }
		if code := c.request("POST", "/v1/tickets", c.admin, string(body), &page); code != http.StatusCreated {
			t.Fatalf("issue: %d", code)
		}
		out = append(out, page.Tickets...)
	}
	return out
}

func (c *gateCloud) venue(t *testing.T, venue string) gate.VenueStatus {
	t.Helper()
	var v gate.VenueStatus
	if code := c.request("GET", "/v1/venues/"+venue, c.admin, "", &v); code != http.StatusOK {
		t.Fatalf("venue %s: %d", venue, code)
	}
	return v
}

// startEdgeProc runs `stadion edge` and waits until it is ready.
func startEdgeProc(t *testing.T, data, venue, cloud, creds string) *proc {
	t.Helper()
	return startEdgeProcArgs(t, data, venue, cloud, creds)
}

// startEdgeProcArgs is startEdgeProc with more flags.
func startEdgeProcArgs(t *testing.T, data, venue, cloud, creds string, extra ...string) *proc {
	t.Helper()
	_ = os.Remove(filepath.Join(data, client.EndpointsFile))
	args := append([]string{"edge", "--venue", venue, "--cloud", cloud, "--creds", creds,
		"--data", data, "--http", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(stadionBinary(t), args...)
	p := &proc{t: t, cmd: cmd, data: data, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, &syncWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	p.waitReady()
	return p
}

func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func edgeStatus(t *testing.T, e *proc) gate.EdgeStatus {
	t.Helper()
	var s gate.EdgeStatus
	if code := e.request("GET", "/v1/status", e.admin, "", &s); code != http.StatusOK {
		t.Fatalf("edge status: %d", code)
	}
	return s
}

// scanner posts scans to an edge over one keep-alive client.
type scanner struct {
	base, key string
	hc        *http.Client
}

func newScanner(e *proc, key string) *scanner {
	return &scanner{base: e.http, key: key, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

func (s *scanner) scan(code, gateName, dir string) (gate.ScanResult, error) {
	body, _ := json.Marshal(gate.ScanRequest{Code: code, Gate: gateName, Direction: dir})
	req, _ := http.NewRequest("POST", s.base+"/v1/scan", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return gate.ScanResult{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return gate.ScanResult{}, fmt.Errorf("scan: %d %s", resp.StatusCode, raw)
	}
	var r gate.ScanResult
	return r, json.Unmarshal(raw, &r)
}
