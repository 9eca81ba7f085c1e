package cli

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

	"github.com/stadion-dev/stadion/internal/server"
)

// child is a `stadion up` started as a separate process for a benchmark,
// so that its memory and CPU are its own and a crash of one does not take
// the other down.
type child struct {
	cmd       *exec.Cmd
	dataDir   string
	ep        server.Endpoints
	adminKey  string
	coldStart time.Duration // from spawning to the first /readyz 200
	stderr    *tailBuffer
	exited    chan struct{}
	waitErr   error
}

// childStartTimeout bounds how long a child may take to become ready.
const childStartTimeout = 60 * time.Second

// startChild runs `bin up` with its state in dataDir and every listener on
// a free loopback port, and returns once /readyz answers 200. extra are
// further flags of up (--config, --log-level...). The caller must stop it.
func startChild(ctx context.Context, bin, dataDir string, extra ...string) (*child, error) {
	args := append([]string{"up", "--data", dataDir, "--http", "127.0.0.1:0", "--nats", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, extra...)
	c := &child{dataDir: dataDir, stderr: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.stderr
	dieWithParent(c.cmd)
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server under test: %w", err)
	}
	go func() { c.waitErr = c.cmd.Wait(); close(c.exited) }()
	if err := c.waitReady(ctx, start); err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}
	return c, nil
}

func (c *child) waitReady(ctx context.Context, start time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, childStartTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.ready(ctx) {
			c.coldStart = time.Since(start)
			return c.readAdminKey()
		}
		select {
		case <-c.exited:
			return fmt.Errorf("the server under test exited before it was ready (%v):\n%s", c.waitErr, c.stderr)
		case <-ctx.Done():
			return fmt.Errorf("the server under test was not ready: %w\n%s", ctx.Err(), c.stderr)
		case <-tick.C:
		}
	}
}

// ready reports whether the child wrote its endpoints and answers /readyz.
func (c *child) ready(ctx context.Context) bool {
	raw, err := os.ReadFile(filepath.Join(c.dataDir, server.EndpointsFile))
	if err != nil || json.Unmarshal(raw, &c.ep) != nil || c.ep.PID != c.cmd.Process.Pid {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.ep.HTTP+"/readyz", nil)
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

func (c *child) readAdminKey() error {
	raw, err := os.ReadFile(filepath.Join(c.dataDir, "admin.key"))
	if err != nil {
		return fmt.Errorf("the server under test wrote no admin key: %w", err)
	}
	c.adminKey = strings.TrimSpace(string(raw))
	return nil
}

// endpoints are the child's listeners.
func (c *child) endpoints() server.Endpoints { return c.ep }

// rss is the child's resident memory now, in bytes.
func (c *child) rss() (uint64, error) {
	rss, _, err := procMem(c.cmd.Process.Pid)
	return rss, err
}

// peakRSS is the most resident memory the child has had, in bytes.
func (c *child) peakRSS() (uint64, error) {
	_, peak, err := procMem(c.cmd.Process.Pid)
	return peak, err
}

// cpu is the CPU time the child has used so far.
func (c *child) cpu() (time.Duration, error) { return procCPU(c.cmd.Process.Pid) }

// stop sends SIGTERM (up drains and exits), and kills the child if it has
// not exited within grace. It reports an exit other than a clean one.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return c.exitErr()
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.cmd.Process.Kill()
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return c.exitErr()
	case <-t.C:
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("the server under test did not stop within %v of SIGTERM and was killed", grace)
	}
}

func (c *child) exitErr() error {
	if c.waitErr == nil {
		return nil
	}
	return fmt.Errorf("the server under test: %w\n%s", c.waitErr, c.stderr)
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
