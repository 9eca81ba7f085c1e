package enginetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/engine"
)

// Cluster runs n of stadion's engines forming one JetStream cluster with
// replicas copies of every stream (engine.replicas), started at once as
// separate processes would, each with its own store in t.TempDir(), until
// the test ends. It returns once every node sees enough peers. (The
// engine's own tests have their copy; they cannot import this package.)
func Cluster(t testing.TB, n, replicas int, opts ...Option) []*engine.Engine {
	t.Helper()
	addrs := make([]string, n)
	var routes []*url.URL
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: addrs[i]})
	}
	engines := make([]*engine.Engine, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		o := Options(t, opts...)
		o.Name = fmt.Sprintf("n%d", i+1)
		o.MaxDisk = 256 << 20
		o.Cluster = &engine.ClusterOptions{Name: "test", Listen: addrs[i], Routes: routes}
		o.Replication = engine.Replication{Replicas: replicas}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			e, err := engine.Start(ctx, o)
			if err == nil {
				err = e.WaitPeers(ctx, 30*time.Second)
			}
			engines[i], errs[i] = e, err
		})
	}
	wg.Wait()
	for i, e := range engines {
		if e != nil {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), stopWithin)
				defer cancel()
				_ = e.Stop(ctx)
			})
		}
		if errs[i] != nil {
			t.Fatalf("engine node %d: %v", i+1, errs[i])
		}
	}
	return engines
}
