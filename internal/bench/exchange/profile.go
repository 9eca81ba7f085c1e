package exchange

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stadion-dev/stadion/internal/loop"
)

// profiler takes a CPU profile of the server under test over each phase's
// measured window (--profile DIR), through the server's loopback-only
// --pprof listener: DIR/<durability>-<phase>.pprof, for `go tool pprof`.
type profiler struct {
	dir  string
	addr string // the server's --pprof address
}

// newProfiler picks a free loopback port for the server's --pprof; nil
// without --profile.
func newProfiler(dir string) (*profiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	return &profiler{dir: dir, addr: addr}, nil
}

// serverArgs are the extra flags of the server under test.
func (p *profiler) serverArgs() []string {
	if p == nil {
		return nil
	}
	return []string{"--pprof", p.addr}
}

// during profiles the window [warmup, warmup+measure) from now, in the
// background; wait for it with the returned function.
func (p *profiler) during(ctx context.Context, name string, warmup, measure time.Duration) func() error {
	if p == nil {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() { done <- p.take(ctx, name, warmup, measure) }()
	return func() error { return <-done }
}

func (p *profiler) take(ctx context.Context, name string, warmup, measure time.Duration) error {
	if !loop.SleepUntil(ctx, time.Now().Add(warmup)) {
		return ctx.Err()
	}
	secs := max(1, int(measure.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", name, resp.Status)
	}
	f, err := os.Create(filepath.Join(p.dir, name+".pprof"))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
