package live

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stadion-dev/stadion/internal/config"
)

// The bridge tests publish events straight to the medals topic's subjects
// through the engine's JetStream (a stream capturing them, as the
// exchange's does), in bursts: the bridge's subscription sees them at the
// engine's pace, far faster than one KV write per event.

const bridgePrefix = "games/medals"

// medalEvent is the payload of the n-th event of a burst, for key.
func medalEvent(key string, n int) string {
	return fmt.Sprintf(`{"data":{"event":%q,"n":%d}}`, key, n)
}

// eventN is the n of a payload medalEvent made.
func eventN(t *testing.T, payload []byte) int {
	t.Helper()
	var ev struct {
		Data struct {
			N int `json:"n"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatalf("retained payload %q: %v", payload, err)
	}
	return ev.Data.N
}

// publishBurst publishes keys[i] as event i for every i, all in flight
// at once, and waits for the stream to acknowledge them. It returns the
// newest payload of every retained topic the bridge should leave.
func publishBurst(t *testing.T, h *harness, keys []string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.eng.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "TOPIC_medals", Subjects: []string{"topic.medals.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	futures := make([]jetstream.PubAckFuture, len(keys))
	for i, key := range keys {
		ev := medalEvent(key, i)
		f, err := h.eng.JS.PublishAsync("topic.medals."+key, []byte(ev))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		futures[i] = f
		want[bridgePrefix], want[bridgePrefix+"/"+key] = ev, ev
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("event %d: %v", i, err)
		case <-ctx.Done():
			t.Fatalf("event %d not acknowledged", i)
		}
	}
	return want
}

// bucketRetained reads the retained bucket: topic → payload.
func bucketRetained(t *testing.T, h *harness) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lister, err := h.s.retained.kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for key := range lister.Keys() {
		e, err := h.s.retained.kv.Get(ctx, key)
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		topic, ok := topicOfKey(key)
		if !ok {
			t.Fatalf("bucket key %q is not base64url", key)
		}
		out[topic] = string(e.Value())
	}
	return out
}

func topicOfKey(key string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(key)
	return string(raw), err == nil
}

func parseTestConfig(t *testing.T, yamlText string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlText), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// eventuallyOr is eventually, saying what it saw last when it times out.
func eventuallyOr(t *testing.T, what string, cond func() bool, saw func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, saw())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBucket polls until the bucket holds exactly want and nothing is
// pending.
func waitBucket(t *testing.T, h *harness, want map[string]string) {
	t.Helper()
	var got map[string]string
	eventuallyOr(t, "the bucket to hold the newest event of every bridged topic", func() bool {
		got = bucketRetained(t, h)
		if len(got) != len(want) {
			return false
		}
		for topic, v := range want {
			if got[topic] != v {
				return false
			}
		}
		n, _ := h.s.bridge.pending.size()
		return n == 0
	}, func() string { return fmt.Sprintf("bucket %v, want %v", got, want) })
}

// TestBridgeBurstRetainsNewest: a burst over a few keys leaves every
// key's and the prefix's newest event retained, in the bucket, in this
// process's memory and for an MQTT screen connecting afterwards to any
// process; it costs fewer KV writes than events, and every event is
// either written or written over (none lost).
func TestBridgeBurstRetainsNewest(t *testing.T) {
	h := newHarness(t, testConfig)
	const n = 5000
	keys := make([]string, n)
	names := []string{"ALP-M-DH", "ALP-W-SL", "CUR-X-FIN", "SKJ-M-LH"}
	for i := range keys {
		keys[i] = names[(i*7+i/3)%len(names)]
	}
	want := publishBurst(t, h, keys)
	waitBucket(t, h, want)

	writes := testutil.ToFloat64(h.s.m.bridgeWrites)
	coalesced := testutil.ToFloat64(h.s.m.bridgeCoalesced)
	t.Logf("%d events: %v retained writes, %v coalesced away", n, writes, coalesced)
	if writes >= n {
		t.Errorf("%v retained writes for %d events: nothing was coalesced", writes, n)
	}
	if events := testutil.ToFloat64(h.s.m.bridgeEvents); events != n {
		t.Errorf("bridge saw %v events, want %d", events, n)
	}
	// Each event records two retained topics: each record is either
	// stored or written over before it was.
	if writes+coalesced != 2*n {
		t.Errorf("writes %v + coalesced %v = %v, want %d (2 per event)", writes, coalesced, writes+coalesced, 2*n)
	}
	if f := testutil.ToFloat64(h.s.m.bridgeFailures) + testutil.ToFloat64(h.s.m.bridgeLost); f != 0 {
		t.Errorf("%v failed or given-up retained writes", f)
	}
	for topic, v := range want {
		if m := h.s.retained.match(topic); len(m) != 1 || string(m[0].Payload) != v {
			t.Errorf("this process retains %d messages for %s, want %s", len(m), topic, v)
		}
	}

	// Screens connecting now, here and to a second process (which knows
	// the bucket only through its watch), get the newest of each topic.
	second := startHarness(t, h.s.cfg, h.eng)
	for i, addr := range []string{h.mqtt, second.mqtt} {
		screen := pahoConnect(t, "tcp://"+addr, fmt.Sprintf("screen-%d", i), "")
		for _, filter := range []string{bridgePrefix, bridgePrefix + "/+"} {
			ch := pahoSubscribe(t, screen, filter)
			wantN := 1
			if strings.HasSuffix(filter, "+") {
				wantN = len(names)
			}
			for range wantN {
				m := next(t, ch)
				if !m.Retained() || string(m.Payload()) != want[m.Topic()] {
					t.Fatalf("screen on %s got %s on %s (retained %v), want %s", addr, m.Payload(), m.Topic(), m.Retained(), want[m.Topic()])
				}
			}
		}
	}
}

// TestBridgeKeepsOrderPerTopic: with the bucket keeping every write, the
// writes of each retained topic carry increasing events: the writer never
// stores an older event after a newer one.
func TestBridgeKeepsOrderPerTopic(t *testing.T) {
	h := newHarness(t, testConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := "KV_" + retainedBucket
	st, err := h.eng.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgsPerSubject = -1 // keep the history of every write
	if _, err := h.eng.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = []string{"SSK-W-500", "SSK-W-500", "SSK-M-1000"}[i%3]
	}
	want := publishBurst(t, h, keys)
	waitBucket(t, h, want)

	for topic, v := range want {
		subject := h.s.retained.subject(topic)
		c, err := h.eng.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := int(info.NumPending)
		if total == 0 {
			t.Fatalf("%s written %d times for %d events", topic, total, n)
		}
		last := -1
		for read := 0; read < total; {
			batch, err := c.Fetch(min(total-read, 500), jetstream.FetchMaxWait(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for m := range batch.Messages() {
				got++
				k := eventN(t, m.Data())
				if k <= last {
					t.Fatalf("%s: event %d written after event %d", topic, k, last)
				}
				last = k
			}
			if batch.Error() != nil {
				t.Fatal(batch.Error())
			}
			if got == 0 {
				t.Fatalf("%s: history ended after %d of %d writes", topic, read, total)
			}
			read += got
		}
		if wantN := eventN(t, []byte(v)); last != wantN {
			t.Fatalf("%s: last write is event %d, want %d", topic, last, wantN)
		}
	}
}

// TestBridgePendingCap: with room for 4 pending topics, a burst over 400
// distinct keys (each event twice) never holds more than 4, and every key
// still ends retained with its newest event: the callback waited for the
// writer instead of growing or giving up.
func TestBridgePendingCap(t *testing.T) {
	const limit = 4
	h := startHarnessOptions(t, parseTestConfig(t, testConfig), nil, Options{BridgeMaxPending: limit})
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			n, _ := h.s.bridge.pending.size()
			if int64(n) > peak.Load() {
				peak.Store(int64(n))
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond): // sampling, not waiting
			}
		}
	}()
	const distinct = 400
	keys := make([]string, 0, 2*distinct)
	for range 2 {
		for i := range distinct {
			keys = append(keys, fmt.Sprintf("EV-%03d", i))
		}
	}
	want := publishBurst(t, h, keys)
	waitBucket(t, h, want)
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > limit || p == 0 {
		t.Fatalf("pending topics peaked at %d, cap %d", p, limit)
	}
	if lost := testutil.ToFloat64(h.s.m.bridgeLost); lost != 0 {
		t.Fatalf("%v retained messages given up", lost)
	}
	if g := testutil.ToFloat64(h.s.m.bridgeWrites) + testutil.ToFloat64(h.s.m.bridgeCoalesced); g != 2*float64(len(keys)) {
		t.Fatalf("writes + coalesced = %v, want %d", g, 2*len(keys))
	}
}

// countingHandler counts the log records whose message has a prefix.
type countingHandler struct {
	slog.Handler
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	c.mu.Lock()
	c.counts[r.Message]++
	c.mu.Unlock()
	return nil
}

func (c *countingHandler) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for msg, k := range c.counts {
		if strings.HasPrefix(msg, prefix) {
			n += k
		}
	}
	return n
}

func (c *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (c *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countingHandler) WithGroup(string) slog.Handler      { return c }

// TestBridgeRetriesFailedWrites: while the engine refuses the bucket's
// writes, the writer retries with backoff, logs the streak once, and
// stores each topic's newest event once the engine takes writes again;
// events that came during the outage replace older ones; a stop flushes
// what is pending.
func TestBridgeRetriesFailedWrites(t *testing.T) {
	logs := &countingHandler{Handler: slog.DiscardHandler, counts: map[string]int{}}
	h := startHarnessOptions(t, parseTestConfig(t, testConfig), nil, Options{Logger: slog.New(logs)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := h.eng.JS.Stream(ctx, "KV_"+retainedBucket)
	if err != nil {
		t.Fatal(err)
	}
	healthy := st.CachedInfo().Config
	broken := healthy
	broken.MaxMsgSize = 1 // every put is refused
	if _, err := h.eng.JS.UpdateStream(ctx, broken); err != nil {
		t.Fatal(err)
	}

	publishBurst(t, h, []string{"BIA-M-IND", "BIA-M-IND"})
	eventually(t, "writes to fail several times", func() bool { return testutil.ToFloat64(h.s.m.bridgeFailures) >= 6 })
	want := publishBurst(t, h, []string{"BIA-M-IND", "BIA-W-SPR", "BIA-M-IND"})
	eventually(t, "the newer events to fail too", func() bool { return testutil.ToFloat64(h.s.m.bridgeFailures) >= 10 })
	if n := logs.count("bridge: retained messages not stored"); n != 1 {
		t.Fatalf("the failing streak was logged %d times, want once", n)
	}
	if got := bucketRetained(t, h); len(got) != 0 {
		t.Fatalf("the bucket took writes over its size limit: %v", got)
	}
	// Meanwhile this process serves the newest events from memory.
	if m := h.s.retained.match(bridgePrefix + "/BIA-M-IND"); len(m) != 1 || string(m[0].Payload) != want[bridgePrefix+"/BIA-M-IND"] {
		t.Fatalf("retained while the engine refuses: %v", m)
	}

	if _, err := h.eng.JS.UpdateStream(ctx, healthy); err != nil {
		t.Fatal(err)
	}
	// Stopping at once (the writer is most likely waiting out its
	// backoff) flushes what is pending before Stop returns.
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer stopCancel()
	if err := h.s.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	got := bucketRetained(t, h)
	if len(got) != len(want) {
		t.Fatalf("after stop the bucket holds %v, want %v", got, want)
	}
	for topic, v := range want {
		if got[topic] != v {
			t.Fatalf("after stop %s holds %s, want %s", topic, got[topic], v)
		}
	}
	if n := logs.count("bridge: retained messages stored again"); n != 1 {
		t.Fatalf("the end of the streak was logged %d times, want once", n)
	}
	if lost := testutil.ToFloat64(h.s.m.bridgeLost); lost != 0 {
		t.Fatalf("%v retained messages given up", lost)
	}
}
