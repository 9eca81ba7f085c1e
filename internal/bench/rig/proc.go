package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stadion-dev/stadion/internal/client"
)

// Child is a `stadion up` started as a separate process for a benchmark,
// so that its memory and CPU are its own and a crash of one does not take
// the other down.
type Child struct {
	Cmd       *exec.Cmd
	DataDir   string
	Ep        client.Endpoints
	AdminKey  string
	ColdStart time.Duration // from spawning to the first /readyz 200
	Stderr    *TailBuffer
	Exited    chan struct{}
	WaitErr   error
}

// childStartTimeout bounds how long a child may take to become ready.
const childStartTimeout = 60 * time.Second

// StartChild runs `bin up` with its state in dataDir and every listener on
// a free loopback port, and returns once /readyz answers 200. extra are
// further flags of up (--config, --log-level...). The caller must stop it.
func StartChild(ctx context.Context, bin, dataDir string, extra ...string) (*Child, error) {
	args := append([]string{"up", "--data", dataDir, "--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, extra...)
	c := &Child{DataDir: dataDir, Stderr: &TailBuffer{Max: 8 << 10}, Exited: make(chan struct{})}
	c.Cmd = exec.Command(bin, args...)
	c.Cmd.Stdout = io.Discard
	c.Cmd.Stderr = c.Stderr
	DieWithParent(c.Cmd)
	start := time.Now()
	if err := c.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server under test: %w", err)
	}
	go func() { c.WaitErr = c.Cmd.Wait(); close(c.Exited) }()
	if err := c.WaitReady(ctx, start); err != nil {
		c.Stop(5 * time.Second)
		return nil, err
	}
	return c, nil
}

func (c *Child) WaitReady(ctx context.Context, start time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, childStartTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.ready(ctx) {
			c.ColdStart = time.Since(start)
			return c.readAdminKey()
		}
		select {
		case <-c.Exited:
			return fmt.Errorf("the server under test exited before it was ready (%v):\n%s", c.WaitErr, c.Stderr)
		case <-ctx.Done():
			return fmt.Errorf("the server under test was not ready: %w\n%s", ctx.Err(), c.Stderr)
		case <-tick.C:
		}
	}
}

// ready reports whether the child wrote its endpoints and answers /readyz.
func (c *Child) ready(ctx context.Context) bool {
	raw, err := os.ReadFile(filepath.Join(c.DataDir, client.EndpointsFile))
	if err != nil || json.Unmarshal(raw, &c.Ep) != nil || c.Ep.PID != c.Cmd.Process.Pid {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.Ep.HTTP+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c *Child) readAdminKey() error {
	raw, err := os.ReadFile(filepath.Join(c.DataDir, "admin.key"))
	if err != nil {
		return fmt.Errorf("the server under test wrote no admin key: %w", err)
	}
	c.AdminKey = strings.TrimSpace(string(raw))
	return nil
}

// Endpoints are the child's listeners.
func (c *Child) Endpoints() client.Endpoints { return c.Ep }

// Rss is the child's resident memory now, in bytes.
func (c *Child) Rss() (uint64, error) {
	rss, _, err := ProcMem(c.Cmd.Process.Pid)
	return rss, err
}

// PeakRSS is the most resident memory the child has had, in bytes.
func (c *Child) PeakRSS() (uint64, error) {
	_, peak, err := ProcMem(c.Cmd.Process.Pid)
	return peak, err
}

// Cpu is the CPU time the child has used so far.
func (c *Child) Cpu() (time.Duration, error) { return ProcCPU(c.Cmd.Process.Pid) }

// Stop sends SIGTERM (up drains and exits), and kills the child if it has
// not exited within grace. It reports an exit other than a clean one.
func (c *Child) Stop(grace time.Duration) error {
	select {
	case <-c.Exited:
		return c.exitErr()
	default:
	}
	if err := c.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.Cmd.Process.Kill()
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.Exited:
		return c.exitErr()
	case <-t.C:
		c.Cmd.Process.Kill()
		<-c.Exited
		return fmt.Errorf("the server under test did not stop within %v of SIGTERM and was killed", grace)
	}
}

func (c *Child) exitErr() error {
	if c.WaitErr == nil {
		return nil
	}
	return fmt.Errorf("the server under test: %w\n%s", c.WaitErr, c.Stderr)
}

// TailBuffer keeps the last max bytes written to it, for error messages.
type TailBuffer struct {
	mu  sync.Mutex
	Max int
	b   []byte
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.Max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
