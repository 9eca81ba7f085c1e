package exchange

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/stadion-dev/stadion/internal/loop"
)

// clusterProfiler takes CPU profiles of the three nodes (through their
// loopback --pprof listeners) and of this load generator during a
// measured phase, into dir as <mode>-<phase>-n<i>.pprof and
// <mode>-<phase>-load.pprof, to read with `go tool pprof`.
type clusterProfiler struct {
	dir   string
	addrs []string // each node's --pprof address
}

// newClusterProfiler picks a free loopback port per node; nil when dir is
// empty (no profiles).
func newClusterProfiler(dir string, nodes int) (*clusterProfiler, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &clusterProfiler{dir: dir}
	for range nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p.addrs = append(p.addrs, ln.Addr().String())
		ln.Close()
	}
	return p, nil
}

// flags are node i's extra flags.
func (p *clusterProfiler) flags(i int) []string {
	if p == nil {
		return nil
	}
	return []string{"--pprof", p.addrs[i]}
}

// during profiles every node and this process for measure, starting after
// warmup; the returned function waits for the profiles and reports the
// first error.
func (p *clusterProfiler) during(ctx context.Context, mode, phase string, warmup, measure time.Duration) func() error {
	if p == nil {
		return func() error { return nil }
	}
	var wg sync.WaitGroup
	errs := make([]error, len(p.addrs)+1)
	secs := max(1, int(measure/time.Second))
	for i, addr := range p.addrs {
		wg.Go(func() {
			if !loop.Sleep(ctx, warmup) {
				return
			}
			errs[i] = p.fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs),
				filepath.Join(p.dir, fmt.Sprintf("%s-%s-n%d.pprof", mode, phase, i+1)))
		})
	}
	wg.Go(func() {
		if !loop.Sleep(ctx, warmup) {
			return
		}
		f, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("%s-%s-load.pprof", mode, phase)))
		if err != nil {
			errs[len(p.addrs)] = err
			return
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			errs[len(p.addrs)] = err
			return
		}
		loop.Sleep(ctx, time.Duration(secs)*time.Second)
		pprof.StopCPUProfile()
	})
	return func() error {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
}

func (p *clusterProfiler) fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
