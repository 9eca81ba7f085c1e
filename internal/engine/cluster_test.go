package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	return startNodes(t, clusterOptions(t, n, replicas))
}

// clusterOptions are the options of n nodes of one cluster, each with its
// own data directory, so that a test can stop a node and start it again
// on its data.
func clusterOptions(t *testing.T, n, replicas int) []Options {
	t.Helper()
	addrs := freeRoutePorts(t, n)
	var routes []*url.URL
	for _, a := range addrs {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: a})
	}
	opts := make([]Options, n)
	for i := range n {
		opts[i] = Options{
			DataDir: t.TempDir(), SyncAlways: true, MaxMemory: 32 << 20, MaxDisk: 256 << 20, ClientAddr: "127.0.0.1:0",
			Name:        fmt.Sprintf("n%d", i+1),
			Cluster:     &ClusterOptions{Name: "test", Listen: addrs[i], Routes: routes},
			Replication: Replication{Replicas: replicas},
		}
	}
	return opts
}

// startNodes starts one engine for each of opts, concurrently, and waits
// until every one sees its peers.
func startNodes(t *testing.T, opts []Options) []*Engine {
	t.Helper()
	n := len(opts)
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
			o := opts[i]
			o.Logger = slog.New(slog.NewTextHandler(logs[i], nil))
			e, err := Start(ctx, o)
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
			t.Fatalf("node %s: %v\n%s", opts[i].Name, errs[i], logs[i])
		}
	}
	return engines
}

// TestConsumerWaitsForTheStreamLeader: a node asking for a durable consumer
// while its stream has no leader (two of three nodes down, as when a
// killed node restarts before its peers settle) gets it once the stream
// has a leader again, instead of failing its start-up after one
// unanswered request.
func TestConsumerWaitsForTheStreamLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster and restarts two nodes")
	}
	opts := clusterOptions(t, 3, 3)
	engines := startNodes(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := engines[0].JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "W", Subjects: []string{"w.>"}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range engines[1:] {
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	created := make(chan error, 1)
	go func() {
		_, err := engines[0].JS.CreateOrUpdateConsumer(ctx, "W", jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy})
		created <- err
	}()
	// A request sent while there is no leader is never answered, or
	// refused at once: without retries the call fails however long the
	// peers take. With them, it has not given up after a few seconds.
	select {
	case err := <-created:
		t.Fatalf("the call returned while the stream had no leader: %v", err)
	case <-time.After(3 * time.Second):
	}
	startNodes(t, opts[1:])
	if err := <-created; err != nil {
		t.Fatalf("consumer asked for while the stream had no leader: %v", err)
	}
	c, err := engines[0].JS.Consumer(ctx, "W", "d")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.Replicas; got != 0 && got != 3 {
		t.Errorf("consumer has %d replicas, want the stream's 3", got)
	}
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

// startNATSCluster starts n plain nats-server instances in-process as one
// JetStream cluster: the "external engine" of --nats-url.
func startNATSCluster(t *testing.T, n int) []string {
	t.Helper()
	addrs := freeRoutePorts(t, n)
	var routes []*url.URL
	for _, a := range addrs {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: a})
	}
	var clientURLs []string
	for i := range n {
		host, port, _ := net.SplitHostPort(addrs[i])
		p, _ := strconv.Atoi(port)
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("ext-%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
			Cluster: server.ClusterOpts{Name: "ext", Host: host, Port: p},
			Routes:  routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		t.Cleanup(ns.Shutdown)
		if !ns.ReadyForConnections(30 * time.Second) {
			t.Fatalf("ext-%d not ready", i+1)
		}
		clientURLs = append(clientURLs, ns.ClientURL())
	}
	return clientURLs
}

// TestExternalClusterGetsTheSameReplication: with --nats-url to a
// three-server cluster, engine.replicas 3 applies the same way, and 5 is
// refused with a message saying what the engine needs.
func TestExternalClusterGetsTheSameReplication(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	urls := strings.Join(startNATSCluster(t, 3), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	connect := func(replicas int) *Engine {
		e, err := Start(ctx, Options{URL: urls, Replication: Replication{Replicas: replicas},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Stop(context.Background()) })
		return e
	}
	e := connect(3)
	if err := e.WaitPeers(ctx, 60*time.Second); err != nil {
		t.Fatalf("three servers cannot hold three copies: %v", err)
	}
	kv, err := e.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "ext", History: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("bucket status %v, %v: want 3 replicas", st, err)
	}
	err = connect(5).WaitPeers(ctx, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "engine.replicas 5: the external engine cannot hold 5 copies") {
		t.Fatalf("R5 on three servers: %v", err)
	}
}

// TestRaisingReplicasScalesExistingAssets: a stream, bucket and object
// store made with one copy get three when the engine's setting rises and
// stadion creates them again (as every start does).
func TestRaisingReplicasScalesExistingAssets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	engines := startCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	create := func(js jetstream.JetStream) {
		t.Helper()
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
			t.Fatalf("stream: %v", err)
		}
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "kv", History: 1})
		if err != nil {
			t.Fatalf("kv: %v", err)
		}
		// A write right after a scale-up may be lost in the leader's
		// change; a writer retries it, as stadion's clients do.
		for attempt := 0; ; attempt++ {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := kv.Put(pctx, "k", []byte("v"))
			cancel()
			if err == nil {
				break
			}
			if attempt == 10 {
				t.Fatalf("put: %v", err)
			}
		}
		if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "obj"}); err != nil {
			t.Fatalf("object store: %v", err)
		}
	}
	replicas := func(name string) int {
		s, err := engines[0].JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.Replicas
	}
	create(engines[0].JS)
	if got := replicas("KV_kv"); got != 1 {
		t.Fatalf("R1 engine made %d copies", got)
	}
	raised := &replicated{JetStream: engines[1].JS.(*replicated).JetStream, r: Replication{Replicas: 3}}
	create(raised)
	for _, name := range []string{"T", "KV_kv", "OBJ_obj"} {
		if got := replicas(name); got != 3 {
			t.Errorf("%s: %d replicas after raising the setting, want 3", name, got)
		}
	}
	kv, err := engines[2].JS.KeyValue(ctx, "kv")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("the value written at R1: %v, %v", e, err)
	}
}

// TestRoutesNeedTheClusterSecret: nodes sharing the secret link; a node
// presenting another secret never joins them.
func TestRoutesNeedTheClusterSecret(t *testing.T) {
	addrs := freeRoutePorts(t, 3)
	var routes []*url.URL
	for _, a := range addrs {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: a})
	}
	start := func(i int, secret string) *Engine {
		e, _ := startEngine(t, Options{ClientAddr: "127.0.0.1:0", Name: fmt.Sprintf("s%d", i),
			Cluster: &ClusterOptions{Name: "sec", Listen: addrs[i], Secret: secret, Routes: routes}})
		return e
	}
	const right = "the-right-secret-0123456789"
	a, intruder, c := start(0, right), start(1, "another-secret-0123456789xx"), start(2, right)
	deadline := time.Now().Add(30 * time.Second)
	for len(a.Peers().Reachable) < 2 || len(c.Peers().Reachable) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("nodes with the same secret did not link: %v / %v", a.Peers(), c.Peers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Give the intruder's redials time to be refused, then check. The
	// honest nodes never list it; the intruder may list a node it dialed
	// for the moment between that node's INFO and its refusal of the
	// intruder's CONNECT, but never joins the meta group (it sees no
	// leader).
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, honest := range []*Engine{a, c} {
			if p := honest.Peers(); len(p.Reachable) > 2 || slices.Contains(p.Reachable, "s1") {
				t.Fatalf("a node with another secret linked: %v", p)
			}
		}
		if p := intruder.Peers(); p.Leader != "" {
			t.Fatalf("a node with another secret joined the meta group: %v", p)
		}
	}
}
