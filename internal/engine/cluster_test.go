package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// freeRoutePorts reserves n loopback ports for route listeners (closed
// again before the engines bind them).
func freeRoutePorts(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close()
	}
	return addrs
}

// startCluster starts n embedded engines forming one JetStream cluster with
// replicas copies of everything, concurrently as separate processes would.
func startCluster(t *testing.T, n, replicas int) []*Engine {
	t.Helper()
	addrs := freeRoutePorts(t, n)
	var routes []*url.URL
	for _, a := range addrs {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: a})
	}
	engines := make([]*Engine, n)
	errs := make([]error, n)
	logs := make([]*syncBuffer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs[i] = &syncBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			e, err := Start(ctx, Options{
				DataDir: t.TempDir(), SyncAlways: true, MaxMemory: 32 << 20, MaxDisk: 256 << 20, ClientAddr: "127.0.0.1:0",
				Name:        fmt.Sprintf("n%d", i+1),
				Logger:      slog.New(slog.NewTextHandler(logs[i], nil)),
				Cluster:     &ClusterOptions{Name: "test", Listen: addrs[i], Routes: routes},
				Replication: Replication{Replicas: replicas},
			})
			if err == nil {
				err = e.WaitPeers(ctx, 30*time.Second)
			}
			engines[i], errs[i] = e, err
		}()
	}
	wg.Wait()
	for i, e := range engines {
		if e != nil {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = e.Stop(ctx)
			})
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v\n%s", i+1, errs[i], logs[i])
		}
	}
	return engines
}

// TestClusterReplicatesEveryAsset: streams, KV buckets and object stores
// created through any node's JetStream context get engine.replicas copies,
// also when every node creates the same asset at once (as every stadion up
// does at start-up).
func TestClusterReplicatesEveryAsset(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	engines := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3*3)
	for _, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
				errs <- fmt.Errorf("stream: %w", err)
			}
			if _, err := e.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "kv", History: 1}); err != nil {
				errs <- fmt.Errorf("kv: %w", err)
			}
			if _, err := e.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "obj"}); err != nil {
				errs <- fmt.Errorf("object store: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, name := range []string{"T", "KV_kv", "OBJ_obj"} {
		s, err := engines[0].JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("%s: %d replicas, want 3", name, got)
		}
	}
	if why := engines[0].QuorumReason(); why != "" {
		t.Errorf("a whole cluster reports %q", why)
	}
	if p := engines[1].Peers(); len(p.Reachable) != 3 || p.Leader == "" || !strings.HasPrefix(p.String(), "3 of 3") {
		t.Errorf("peers = %+v", p)
	}
}
