package gate

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stadion-dev/stadion/examples/games"
	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/client"
	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/gate"
)

// gateBenchConfig is the cloud's configuration in bench gate.
const gateBenchConfig = `topics:
  admissions:
    schema: schemas/admissions.json
    key: /ticket_id
    publishers: []
    subscribers: [ticketing]
clients:
  ticketing:
    roles: [ticketing]
venues:
  bench:
    gates: [g1, g2, g3, g4]
`

// gateRig is a cloud and an edge linked through a cuttable proxy.
type gateRig struct {
	dir          string
	cloud, edge  *rig.Child
	proxy        *rig.LinkProxy
	cloudAPI     *client.Client
	edgeAPI      *client.Client // with a device key
	edgeAdminAPI *client.Client
	codes        []string
	pub          ed25519.PublicKey
}

func startGateRig(ctx context.Context, env cmdio.Env, o gateBenchOptions) (_ *gateRig, err error) {
	r := &gateRig{}
	if r.dir, err = os.MkdirTemp("", "stadion-bench-gate-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.stop()
		}
	}()
	cfg, err := r.writeConfig()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(env.Stderr, "starting the cloud and the edge...")
	if r.cloud, err = rig.StartChild(ctx, o.bin, filepath.Join(r.dir, "cloud"), "--config", cfg, "--leaf", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	r.cloudAPI = &client.Client{Base: r.cloud.Ep.HTTP, Token: r.cloud.AdminKey, HTTP: rig.HTTPClient(8)}
	leaf, err := url.Parse(r.cloud.Ep.Leaf)
	if err != nil {
		return nil, fmt.Errorf("cloud leaf URL %q: %w", r.cloud.Ep.Leaf, err)
	}
	if r.proxy, err = rig.NewLinkProxy(leaf.Host); err != nil {
		return nil, err
	}
	if err := r.startEdge(ctx, o); err != nil {
		return nil, err
	}
	if r.codes, err = r.issue(ctx, env, o.tickets); err != nil {
		return nil, err
	}
	return r, r.readKey(ctx)
}

func (r *gateRig) writeConfig() (string, error) {
	schema, err := fs.ReadFile(games.FS, "schemas/admissions.json")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "schemas"), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "schemas", "admissions.json"), schema, 0o600); err != nil {
		return "", err
	}
	path := filepath.Join(r.dir, "stadion.yaml")
	return path, os.WriteFile(path, []byte(gateBenchConfig), 0o600)
}

func (r *gateRig) startEdge(ctx context.Context, o gateBenchOptions) error {
	var cr gate.Credentials
	if err := r.cloudAPI.Do(ctx, "POST", "/v1/venues/bench/credentials", "", nil, nil, &cr); err != nil {
		return err
	}
	raw, _ := json.Marshal(cr)
	creds := filepath.Join(r.dir, "bench.creds")
	if err := os.WriteFile(creds, raw, 0o600); err != nil {
		return err
	}
	var err error
	r.edge, err = startChildCmd(ctx, o.bin, filepath.Join(r.dir, "edge"), "edge", "--venue", "bench",
		"--cloud", r.proxy.URL(), "--creds", creds, "--data", filepath.Join(r.dir, "edge"), "--http", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.edgeAdminAPI = &client.Client{Base: r.edge.Ep.HTTP, Token: r.edge.AdminKey, HTTP: rig.HTTPClient(4)}
	var dev struct{ Key string }
	if err := r.edgeAdminAPI.Do(ctx, "POST", "/v1/devices/bench-1/keys", "", nil, nil, &dev); err != nil {
		return err
	}
	r.edgeAPI = &client.Client{Base: r.edge.Ep.HTTP, Token: dev.Key, HTTP: rig.HTTPClient(o.clients)}
	return nil
}

// issue issues n tickets valid now, with a progress bar.
func (r *gateRig) issue(ctx context.Context, env cmdio.Env, n int) ([]string, error) {
	now := time.Now().UTC()
	reqs := make([]gate.TicketRequest, n)
	for i := range reqs {
		reqs[i] = gate.TicketRequest{Venue: "bench", Session: "BENCH", ValidFrom: now.Add(-time.Hour),
			ValidUntil: now.Add(24 * time.Hour), Seat: fmt.Sprint(i)}
	}
	var out bufferWriter
	if err := r.cloudAPI.IssueTickets(ctx, &out, env.Stderr, reqs); err != nil {
		return nil, err
	}
	codes := make([]string, 0, n)
	dec := json.NewDecoder(&out)
	for {
		var t gate.Issued
		if err := dec.Decode(&t); err == io.EOF {
			return codes, nil
		} else if err != nil {
			return nil, err
		}
		codes = append(codes, t.Code)
	}
}

func (r *gateRig) readKey(ctx context.Context) error {
	var ks struct {
		Keys   []gate.PublicKey `json:"keys"`
		Active uint32           `json:"active"`
	}
	if err := r.cloudAPI.Do(ctx, "GET", "/v1/tickets/keys", "", nil, nil, &ks); err != nil {
		return err
	}
	for _, k := range ks.Keys {
		if k.ID == ks.Active {
			r.pub = k.Public
		}
	}
	// Wait until the edge holds the key, so no scan fails for its absence.
	return r.waitEdge(ctx, "the signing key at the edge", func(s gate.EdgeStatus) bool { return len(s.Control.Keys) > 0 })
}

func (r *gateRig) edgeStatus(ctx context.Context) (gate.EdgeStatus, error) {
	var s gate.EdgeStatus
	err := r.edgeAdminAPI.Do(ctx, "GET", "/v1/status", "", nil, nil, &s)
	return s, err
}

func (r *gateRig) waitEdge(ctx context.Context, what string, cond func(gate.EdgeStatus) bool) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		s, err := r.edgeStatus(ctx)
		if err == nil && cond(s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("timed out waiting for %s", what)
}

func (r *gateRig) venue(ctx context.Context) (gate.VenueStatus, error) {
	var v gate.VenueStatus
	err := r.cloudAPI.Do(ctx, "GET", "/v1/venues/bench", "", nil, nil, &v)
	return v, err
}

func (r *gateRig) scan(ctx context.Context, code, gateName string) (gate.ScanResult, error) {
	body, _ := json.Marshal(gate.ScanRequest{Code: code, Gate: gateName, Direction: "in"})
	var res gate.ScanResult
	err := r.edgeAPI.Do(ctx, "POST", "/v1/scan", "application/json", body, nil, &res)
	return res, err
}

func (r *gateRig) stop() {
	if r.edge != nil {
		_ = r.edge.Stop(10 * time.Second)
	}
	if r.proxy != nil {
		r.proxy.Close()
	}
	if r.cloud != nil {
		_ = r.cloud.Stop(10 * time.Second)
	}
	_ = os.RemoveAll(r.dir)
}

// startChildCmd is startChild for any server subcommand (edge): args are
// the whole command line after the binary.
func startChildCmd(ctx context.Context, bin, dataDir string, args ...string) (*rig.Child, error) {
	c := &rig.Child{DataDir: dataDir, Stderr: &rig.TailBuffer{Max: 8 << 10}, Exited: make(chan struct{})}
	c.Cmd = exec.Command(bin, args...)
	c.Cmd.Stdout = io.Discard
	c.Cmd.Stderr = c.Stderr
	rig.DieWithParent(c.Cmd)
	start := time.Now()
	if err := c.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	go func() { c.WaitErr = c.Cmd.Wait(); close(c.Exited) }()
	if err := c.WaitReady(ctx, start); err != nil {
		c.Stop(5 * time.Second)
		return nil, err
	}
	return c, nil
}

// bufferWriter is a goroutine-safe bytes buffer.
type bufferWriter struct {
	mu  sync.Mutex
	buf []byte
	off int
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bufferWriter) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.off >= len(b.buf) {
		return 0, io.EOF
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// verifyCeiling verifies the codes' signatures on every core for 2 s.
func verifyCeiling(codes []string, pub ed25519.PublicKey) gateCeiling {
	decoded := make([]*gate.Decoded, 0, len(codes))
	for _, c := range codes {
		if d, err := gate.DecodeCode(c); err == nil {
			decoded = append(decoded, d)
		}
	}
	cores := runtime.NumCPU()
	var n atomic.Int64
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < cores; w++ {
		wg.Go(func() {
			for i := w; time.Now().Before(stop); i += cores {
				if decoded[i%len(decoded)].Verify(pub) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return gateCeiling{Cores: cores, PerSec: float64(n.Load()) / 2}
}
