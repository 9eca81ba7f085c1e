package live

import (
	"context"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/config"
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
	engines := enginetest.Cluster(t, n, n)

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
