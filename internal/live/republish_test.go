package live

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
	"github.com/stadion-dev/stadion/internal/mqtt"
)

// storeBatch publishes a batch of comments the way a moderation worker
// does (stored subject, batch header, dedupe id) and waits for the ack.
func storeBatch(t *testing.T, js jetstream.JetStream, subject, msgID string, comments ...Comment) *jetstream.PubAck {
	t.Helper()
	var data []byte
	for i, c := range comments {
		raw, _ := json.Marshal(c)
		if i > 0 {
			data = append(data, '\n')
		}
		data = append(data, raw...)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(batchHeader, "1")
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		t.Fatalf("store %s: %v", msgID, err)
	}
	return ack
}

// receiveUntil reads comments from ch until the one with id last, and
// returns their ids in the order they arrived; after each arrival, the
// room's history must already hold the comment.
func receiveUntil(t *testing.T, h *harness, ch <-chan paho.Message, room, last string) []string {
	t.Helper()
	var got []string
	for len(got) == 0 || got[len(got)-1] != last {
		var c Comment
		m := next(t, ch)
		if err := json.Unmarshal(m.Payload(), &c); err != nil {
			t.Fatalf("comment %s: %v", m.Payload(), err)
		}
		got = append(got, c.ID)
		var page HistoryPage
		h.as(t).do("GET", "/v1/live/"+room+"/comments?limit=100", "", nil, &page)
		if !slices.ContainsFunc(page.Comments, func(raw json.RawMessage) bool {
			var hc Comment
			json.Unmarshal(raw, &hc)
			return hc.ID == c.ID
		}) {
			t.Fatalf("comment %s reached a viewer before the room's history held it: %s", c.ID, page.Comments)
		}
	}
	return got
}

// TestRedeliveredBatchFannedOutOnce: a batch stored twice with the same
// dedupe id (a worker died after storing it, before acking the posts, and
// another worker took the batch over) reaches a live viewer once, in
// order, and only once the room's history holds it.
func TestRedeliveredBatchFannedOutOnce(t *testing.T) {
	h := newHarness(t, testConfig)
	viewer := pahoConnect(t, "tcp://"+h.mqtt, "anon-viewer", "")
	ch := pahoSubscribe(t, viewer, "live/curling/comments")

	st, err := h.eng.JS.Stream(context.Background(), commentsStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; c.PersistMode != jetstream.AsyncPersistMode || c.RePublish == nil {
		t.Fatalf("a new %s: persist mode %v, republish %+v", commentsStream, c.PersistMode, c.RePublish)
	}

	now := time.Now().UTC()
	a := Comment{ID: "c-a", Room: "curling", User: "u1", Name: "One", Text: "first", Time: now}
	b := Comment{ID: "c-b", Room: "curling", User: "u2", Name: "Two", Text: "second", Time: now}
	end := Comment{ID: "c-end", Room: "curling", User: "u3", Name: "Three", Text: "third", Time: now}
	first := storeBatch(t, h.eng.JS, storedSubject("curling"), "batch-1.curling", a, b)
	again := storeBatch(t, h.eng.JS, storedSubject("curling"), "batch-1.curling", a, b)
	if !again.Duplicate || again.Sequence != first.Sequence {
		t.Fatalf("second store of the batch: %+v, want a duplicate of %+v", again, first)
	}
	storeBatch(t, h.eng.JS, storedSubject("curling"), "batch-2.curling", end)

	got := receiveUntil(t, h, ch, "curling", end.ID)
	if want := []string{a.ID, b.ID, end.ID}; !slices.Equal(got, want) {
		t.Fatalf("the viewer got %v, want %v (each once, in order)", got, want)
	}

	// The same through the real pipeline: posted comments reach the
	// viewer once each, in the order history keeps them.
	tok := h.token("u7", "Seven")
	var posted []string
	for _, text := range []string{"p1", "p2", "p3"} {
		var c Comment
		if code := h.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": text}, &c); code != 201 {
			t.Fatalf("post %s: status %d", text, code)
		}
		posted = append(posted, c.ID)
	}
	if got := receiveUntil(t, h, ch, "curling", posted[2]); !slices.Equal(got, posted) {
		t.Fatalf("the viewer got %v, want %v", got, posted)
	}
	// Their fan-out delay was counted once each (the live_fanout SLO);
	// the batches stored above without a post time count in none.
	fanned := func() uint64 {
		var m dto.Metric
		if err := h.s.m.fanoutDelay.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	eventually(t, "three fan-out delays counted", func() bool { return fanned() >= 3 })
	if n := fanned(); n != 3 {
		t.Fatalf("%d fan-out delays counted for 3 posted comments", n)
	}
}

// TestCommentsStreamUpgradedInPlace: a LIVE_COMMENTS made by a version
// that stored comments on the viewers' subject is updated in place at
// start (stored subjects, republish), its comments stay in the history,
// and new comments reach viewers once.
func TestCommentsStreamUpgradedInPlace(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eng := enginetest.Start(t, enginetest.Logger(log))
	// The stream as the previous version made it.
	if _, err := eng.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: commentsStream, Description: "accepted live comments, per room, for history",
		Subjects: []string{"mq.live.*.comments"}, Storage: jetstream.FileStorage,
		MaxMsgsPerSubject: 100, MaxAge: 24 * time.Hour, Duplicates: dedupeWindow,
		AllowDirect: true, MaxConsumers: commentsMaxConsumers,
	}); err != nil {
		t.Fatalf("old stream: %v", err)
	}
	old := Comment{ID: "c-old", Room: "curling", User: "u1", Name: "One", Text: "before the upgrade", Time: time.Now().UTC()}
	storeBatch(t, eng.JS, "mq.live.curling.comments", "old-batch.curling", old)

	cfg, err := config.Parse([]byte(testConfig), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, cfg, eng)
	info, err := eng.JS.Stream(ctx, commentsStream)
	if err != nil {
		t.Fatal(err)
	}
	c := info.CachedInfo().Config
	if !slices.Equal(c.Subjects, []string{storedPrefix + "*"}) || c.RePublish == nil || *c.RePublish != *storedRepublish {
		t.Fatalf("stream not upgraded: subjects %v, republish %+v", c.Subjects, c.RePublish)
	}
	if c.PersistMode != jetstream.DefaultPersistMode {
		t.Fatalf("persist mode %v: the engine cannot change it, the old one must be kept", c.PersistMode)
	}
	if info.CachedInfo().State.Msgs != 1 {
		t.Fatalf("the upgrade lost stored comments: %+v", info.CachedInfo().State)
	}

	viewer := pahoConnect(t, "tcp://"+h.mqtt, "anon-viewer", "")
	ch := pahoSubscribe(t, viewer, "live/curling/comments")
	tok := h.token("u7", "Seven")
	var posted []string
	for _, text := range []string{"after one", "after two"} {
		var c Comment
		if code := h.do("POST", "/v1/live/curling/comments", tok, map[string]string{"text": text}, &c); code != 201 {
			t.Fatalf("post %s: status %d", text, code)
		}
		posted = append(posted, c.ID)
	}
	if got := receiveUntil(t, h, ch, "curling", posted[1]); !slices.Equal(got, posted) {
		t.Fatalf("the viewer got %v, want %v", got, posted)
	}
	var page HistoryPage
	h.do("GET", "/v1/live/curling/comments", "", nil, &page)
	var ids []string
	for _, raw := range page.Comments {
		var hc Comment
		json.Unmarshal(raw, &hc)
		ids = append(ids, hc.ID)
	}
	want := append([]string{old.ID}, posted...)
	if !slices.Equal(ids, want) {
		t.Fatalf("history after the upgrade: %v, want %v", ids, want)
	}

	// A persistent session's journal reads the comments of both
	// subjects, in stream order, on the room's topic; and Fetch (a
	// redelivery) reads them back.
	for _, filter := range []string{"live/curling/comments", "live/+/comments"} {
		feed, err := hooks{h.s}.Follow([]mqtt.Filter{{Topic: filter, QoS: 1}}, mqtt.Position{})
		if err != nil {
			t.Fatalf("follow %s: %v", filter, err)
		}
		var journaled []string
		for len(journaled) < len(want) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			m, err := feed.Next(ctx)
			cancel()
			if err != nil {
				t.Fatalf("follow %s: %v after %v", filter, err, journaled)
			}
			if m.CaughtUp {
				continue
			}
			if m.Topic != "live/curling/comments" {
				t.Fatalf("journaled topic %q", m.Topic)
			}
			var jc Comment
			json.Unmarshal(m.Payload, &jc)
			journaled = append(journaled, jc.ID)
			fm, ok, err := hooks{h.s}.Fetch(m.Pos)
			if err != nil || !ok || fm.Topic != m.Topic || string(fm.Payload) != string(m.Payload) {
				t.Fatalf("fetch %+v: %+v %v %v", m.Pos, fm, ok, err)
			}
		}
		feed.Stop()
		if !slices.Equal(journaled, want) {
			t.Fatalf("journal %s after the upgrade: %v, want %v", filter, journaled, want)
		}
	}
}

// TestReplicatedLiveStreamsAreNotAsync: the engine refuses the async
// persist mode on a replicated stream, so with engine.replicas 3 the live
// streams keep the default mode.
func TestReplicatedLiveStreamsAreNotAsync(t *testing.T) {
	cfg, err := config.Parse([]byte(testConfig), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{cfg: cfg}
	if got := s.commentPersistMode(); got != jetstream.AsyncPersistMode {
		t.Errorf("one copy: persist mode %v, want async", got)
	}
	cfg.Engine.Replicas = 3
	if got := s.commentPersistMode(); got != jetstream.DefaultPersistMode {
		t.Errorf("three copies: persist mode %v, want the default", got)
	}
}
