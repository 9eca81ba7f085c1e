package live

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// TestReplicatedCommentsFannedOutOnce: on a three-node engine cluster with
// engine.replicas 3, live starts (its streams in the default persist mode,
// replicated), and a comment posted through one node's process reaches a
// viewer of another node's process once, from the stream's republish.
func TestReplicatedCommentsFannedOutOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node engine cluster; the full suite runs it")
	}
	const n = 3
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close()
	}
	var routes []*url.URL
	for _, a := range addrs {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: a})
	}
	engines := make([]*engine.Engine, n)
	errs := make([]error, n)
	// The nodes start together (each waits for its peers), so the options
	// come from the harness and the starts run here.
	opts := make([]engine.Options, n)
	for i := range n {
		opts[i] = enginetest.Options(t, enginetest.With(func(o *engine.Options) {
			o.MaxMemory, o.MaxDisk, o.Name = 32<<20, 256<<20, fmt.Sprintf("n%d", i+1)
			o.Cluster = &engine.ClusterOptions{Name: "live", Listen: addrs[i], Routes: routes}
			o.Replication = engine.Replication{Replicas: n}
		}))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			e, err := engine.Start(ctx, opts[i])
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
				e.Stop(ctx)
			})
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i+1, errs[i])
		}
	}

	cfg := func() *config.Config {
		c, err := config.Parse([]byte(testConfig), fstest.MapFS{}, ".")
		if err != nil {
			t.Fatal(err)
		}
		c.Engine.Replicas = n
		return c
	}
	poster := startHarness(t, cfg(), engines[0])
	watcher := startHarness(t, cfg(), engines[1])

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{commentsStream, postsStream} {
		st, err := engines[2].JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if c := st.CachedInfo().Config; c.Replicas != n || c.PersistMode != jetstream.DefaultPersistMode {
			t.Fatalf("%s: %d replicas, persist mode %v", name, c.Replicas, c.PersistMode)
		}
	}

	viewer := pahoConnect(t, "tcp://"+watcher.mqtt, "anon-viewer", "")
	ch := pahoSubscribe(t, viewer, "live/curling/comments")
	tok := poster.token("u7", "Seven")
	var posted []string
	for _, text := range []string{"r1", "r2", "r3"} {
		var c Comment
		if code := poster.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": text}, &c); code != 201 {
			t.Fatalf("post %s: status %d", text, code)
		}
		posted = append(posted, c.ID)
	}
	got := receiveUntil(t, watcher, ch, "curling", posted[2])
	if !slices.Equal(got, posted) {
		t.Fatalf("the viewer on another node got %v, want %v", got, posted)
	}
}
