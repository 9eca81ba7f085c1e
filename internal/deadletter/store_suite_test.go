package deadletter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/engine/enginetest"
)

// The conformance suite of the dead-letter store: every behaviour below
// holds for both kinds (subscriptions' and sinks' dead letters), on the
// real engine. Kind-specific behaviour (what a letter records, what
// redrive writes to) is tested with each owner: exchange's
// TestSubscriptionDeadLetters and TestDeadLetterWithoutPull, delivery's
// TestSinkDeadLettersPoisonAndRedrives.

// letter stands for an owner's record: the store keeps any JSON.
type letter struct {
	Owner string          `json:"owner"`
	N     int             `json:"n"`
	Event json.RawMessage `json:"event"`
}

// suiteEnv is one case's store on its own engine.
type suiteEnv struct {
	t       *testing.T
	kind    deadletter.Kind
	dir     string
	eng     *engine.Engine
	store   *deadletter.Store
	owner   string
	limits  deadletter.Limits
	restart func() // stops the engine and starts it again on the same store
}

var storeCases = []struct {
	name string
	run  func(e *suiteEnv)
}{
	{"record", testRecord},
	{"list order and paging", testListPaging},
	{"redrive exactly once", testRedriveOnce},
	{"redrive keeps what the target refuses", testRedriveKeeps},
	{"drop", testDrop},
	{"survive restart", testSurviveRestart},
	{"bounded size", testBounded},
	{"oldest age", testOldest},
	{"stream of an older binary", testOlderStream},
	{"streams through the engine's context", testReplicasFromEngine},
}

func TestStoreConformance(t *testing.T) {
	for _, kind := range []deadletter.Kind{deadletter.Sub, deadletter.Sink} {
		t.Run(string(kind), func(t *testing.T) {
			for _, c := range storeCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(newSuiteEnv(t, kind, deadletter.Limits{}))
				})
			}
		})
	}
}

func newSuiteEnv(t *testing.T, kind deadletter.Kind, limits deadletter.Limits) *suiteEnv {
	e := &suiteEnv{t: t, kind: kind, dir: t.TempDir(), owner: "owner-1", limits: limits}
	e.eng = enginetest.Start(t, enginetest.Dir(e.dir))
	e.store = deadletter.New(e.eng.JS, kind, nil, limits)
	e.restart = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.eng.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		e.eng = enginetest.Start(t, enginetest.Dir(e.dir))
		e.store = deadletter.New(e.eng.JS, kind, nil, limits)
	}
	e.open()
	return e
}

func (e *suiteEnv) open() {
	e.t.Helper()
	if err := e.store.Open(context.Background(), e.owner, "test dead letters", map[string]string{"test": "1"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *suiteEnv) put(n int, msgID string) uint64 {
	e.t.Helper()
	id, err := e.store.Put(context.Background(), e.owner, msgID, letter{Owner: e.owner, N: n, Event: json.RawMessage(fmt.Sprintf(`{"id":"ev-%d"}`, n))})
	if err != nil {
		e.t.Fatalf("put %d: %v", n, err)
	}
	return id
}

func (e *suiteEnv) list(after uint64, limit int) []deadletter.Entry {
	e.t.Helper()
	es, err := e.store.List(context.Background(), e.owner, after, limit)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

func ns(es []deadletter.Entry) []int {
	out := make([]int, len(es))
	for i, en := range es {
		var l letter
		_ = json.Unmarshal(en.Data, &l)
		out[i] = l.N
	}
	return out
}

func testRecord(e *suiteEnv) {
	before := time.Now().Add(-time.Second)
	id := e.put(1, "")
	if id == 0 {
		e.t.Fatal("no id")
	}
	es := e.list(0, 10)
	if len(es) != 1 || es[0].ID != id || es[0].Stored.Before(before) {
		e.t.Fatalf("listed %+v", es)
	}
	var got letter
	if err := json.Unmarshal(es[0].Data, &got); err != nil || got.N != 1 || string(got.Event) != `{"id":"ev-1"}` {
		e.t.Fatalf("record %s: %v", es[0].Data, err)
	}
	// Where it lives is part of the wire: DLQ_<kind>_<owner>, dlq.<kind>.<owner>.
	st, err := e.eng.JS.Stream(context.Background(), "DLQ_"+string(e.kind)+"_"+e.owner)
	if err != nil {
		e.t.Fatal(err)
	}
	if subj := st.CachedInfo().Config.Subjects; len(subj) != 1 || subj[0] != "dlq."+string(e.kind)+"."+e.owner {
		e.t.Fatalf("subjects %v", subj)
	}
	// The same failure recorded twice with its dedupe id is one letter.
	first := e.put(2, "failure-2")
	if again := e.put(2, "failure-2"); again != first {
		e.t.Fatalf("deduplicated put got id %d, want %d", again, first)
	}
	if got := ns(e.list(0, 10)); fmt.Sprint(got) != "[1 2]" {
		e.t.Fatalf("after a repeated put: %v", got)
	}
	// Another owner of the kind is apart.
	other := deadletter.New(e.eng.JS, e.kind, nil, deadletter.Limits{})
	if es, err := other.List(context.Background(), "nobody", 0, 10); err != nil || len(es) != 0 {
		e.t.Fatalf("owner without a stream: %v %v", es, err)
	}
}

func testListPaging(e *suiteEnv) {
	for n := 1; n <= 7; n++ {
		e.put(n, "")
	}
	if _, err := e.store.Remove(context.Background(), e.owner, []uint64{4}); err != nil {
		e.t.Fatal(err)
	}
	var all []int
	var after uint64
	for pages := 0; ; pages++ {
		if pages > 5 {
			e.t.Fatal("paging does not end")
		}
		es := e.list(after, 2)
		if len(es) == 0 {
			break
		}
		if len(es) > 2 {
			e.t.Fatalf("page of %d, limit 2", len(es))
		}
		all = append(all, ns(es)...)
		after = es[len(es)-1].ID
	}
	if fmt.Sprint(all) != "[1 2 3 5 6 7]" {
		e.t.Fatalf("pages gave %v", all)
	}
	if got, err := e.store.Get(context.Background(), e.owner, []uint64{7, 4, 1, 0, 99}); err != nil || fmt.Sprint(ns(got)) != "[7 1]" {
		e.t.Fatalf("get: %v %v", ns(got), err)
	}
}

func testRedriveOnce(e *suiteEnv) {
	const n = 20
	for i := 1; i <= n; i++ {
		e.put(i, "")
	}
	// Two redrives at once (two operators, two replicas): the target is
	// idempotent, and each letter is counted by exactly one of them.
	var mu sync.Mutex
	seen := map[int]int{}
	to := func(_ context.Context, en deadletter.Entry) error {
		var l letter
		_ = json.Unmarshal(en.Data, &l)
		mu.Lock()
		seen[l.N]++
		mu.Unlock()
		return nil
	}
	results := make([]deadletter.Result, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i], errs[i] = e.store.Redrive(context.Background(), e.owner, nil, to) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		e.t.Fatal(errs)
	}
	if got := results[0].Redriven + results[1].Redriven; got != n {
		e.t.Fatalf("redriven %d + %d, want %d in all", results[0].Redriven, results[1].Redriven, n)
	}
	for i := 1; i <= n; i++ {
		if seen[i] == 0 {
			e.t.Fatalf("letter %d never reached the target", i)
		}
	}
	if left := e.list(0, 100); len(left) != 0 {
		e.t.Fatalf("left after redrive: %v", ns(left))
	}
	// A redrive of listed ids takes those only, once.
	a, b := e.put(100, ""), e.put(101, "")
	res, err := e.store.Redrive(context.Background(), e.owner, []uint64{b, b, 12345}, to)
	if err != nil || res.Redriven != 1 || seen[101] != 1 {
		e.t.Fatalf("redrive of ids: %+v %v (seen %d)", res, err, seen[101])
	}
	if left := e.list(0, 100); len(left) != 1 || left[0].ID != a {
		e.t.Fatalf("left %v", ns(left))
	}
}

func testRedriveKeeps(e *suiteEnv) {
	for i := 1; i <= 3; i++ {
		e.put(i, "")
	}
	refused := errors.New("row rejected")
	res, err := e.store.Redrive(context.Background(), e.owner, nil, func(_ context.Context, en deadletter.Entry) error {
		if ns([]deadletter.Entry{en})[0] == 2 {
			return deadletter.Keep(refused)
		}
		return nil
	})
	if err != nil || res.Redriven != 2 || len(res.Failed) != 1 || res.Failed[0].Error != "row rejected" {
		e.t.Fatalf("redrive %+v %v", res, err)
	}
	if left := ns(e.list(0, 10)); fmt.Sprint(left) != "[2]" {
		e.t.Fatalf("left %v", left)
	}
	// Any other error ends the redrive and loses nothing.
	broken := errors.New("engine gone")
	if _, err := e.store.Redrive(context.Background(), e.owner, nil, func(context.Context, deadletter.Entry) error { return broken }); !errors.Is(err, broken) {
		e.t.Fatalf("error %v", err)
	}
	if left := ns(e.list(0, 10)); fmt.Sprint(left) != "[2]" {
		e.t.Fatalf("left after a failed redrive %v", left)
	}
}

func testDrop(e *suiteEnv) {
	ids := []uint64{e.put(1, ""), e.put(2, ""), e.put(3, ""), e.put(4, "")}
	ctx := context.Background()
	if n, err := e.store.Remove(ctx, e.owner, []uint64{ids[1], ids[1], 999}); err != nil || n != 1 {
		e.t.Fatalf("remove listed: %d %v", n, err)
	}
	if n, err := e.store.Remove(ctx, e.owner, nil); err != nil || n != 3 {
		e.t.Fatalf("remove all: %d %v", n, err)
	}
	if left := e.list(0, 10); len(left) != 0 {
		e.t.Fatalf("left %v", ns(left))
	}
	if n, err := e.store.Remove(ctx, e.owner, nil); err != nil || n != 0 {
		e.t.Fatalf("remove from empty: %d %v", n, err)
	}
	// Dropping the owner removes its stream.
	if err := e.store.Drop(ctx, e.owner); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.eng.JS.Stream(ctx, deadletter.StreamName(e.kind, e.owner)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		e.t.Fatalf("stream after drop: %v", err)
	}
	if err := e.store.Drop(ctx, e.owner); err != nil {
		e.t.Fatalf("second drop: %v", err)
	}
}

func testSurviveRestart(e *suiteEnv) {
	for i := 1; i <= 3; i++ {
		e.put(i, "")
	}
	e.restart()
	if got := ns(e.list(0, 10)); fmt.Sprint(got) != "[1 2 3]" {
		e.t.Fatalf("after restart: %v", got)
	}
	e.open() // a restarted owner opens again and keeps its letters
	if got := ns(e.list(0, 10)); fmt.Sprint(got) != "[1 2 3]" {
		e.t.Fatalf("after reopening: %v", got)
	}
}

func testBounded(e *suiteEnv) {
	e.store = deadletter.New(e.eng.JS, e.kind, nil, deadletter.Limits{MaxLetters: 3})
	e.open()
	for i := 1; i <= 3; i++ {
		e.put(i, "")
	}
	_, err := e.store.Put(context.Background(), e.owner, "", letter{N: 4})
	if !errors.Is(err, deadletter.ErrFull) {
		e.t.Fatalf("put past the bound: %v", err)
	}
	if got := ns(e.list(0, 10)); fmt.Sprint(got) != "[1 2 3]" {
		e.t.Fatalf("a full store lost or replaced letters: %v", got)
	}
	st, err := e.store.Stats(context.Background(), e.owner)
	if err != nil || st.Count != 3 {
		e.t.Fatalf("stats %+v %v", st, err)
	}
}

func testOldest(e *suiteEnv) {
	ctx := context.Background()
	if st, err := e.store.Stats(ctx, e.owner); err != nil || st.Count != 0 || !st.Oldest.IsZero() {
		e.t.Fatalf("empty stats %+v %v", st, err)
	}
	if st, err := e.store.Stats(ctx, "nobody"); err != nil || st.Count != 0 {
		e.t.Fatalf("stats of an owner without a stream %+v %v", st, err)
	}
	first := e.put(1, "")
	e.put(2, "")
	es := e.list(0, 10)
	st, err := e.store.Stats(ctx, e.owner)
	if err != nil || st.Count != 2 || !st.Oldest.Equal(es[0].Stored) {
		e.t.Fatalf("stats %+v, first stored %v: %v", st, es[0].Stored, err)
	}
	if _, err := e.store.Remove(ctx, e.owner, []uint64{first}); err != nil {
		e.t.Fatal(err)
	}
	if st, _ := e.store.Stats(ctx, e.owner); st.Count != 1 || !st.Oldest.Equal(es[1].Stored) {
		e.t.Fatalf("oldest after removing the first: %+v", st)
	}
}

// testOlderStream: a stream made by an older binary (no bound) keeps its
// letters, is read as is and gets the bound when opened.
func testOlderStream(e *suiteEnv) {
	ctx := context.Background()
	owner := "older"
	if _, err := e.eng.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: deadletter.StreamName(e.kind, owner), Subjects: []string{deadletter.Subject(e.kind, owner)},
		Storage: jetstream.FileStorage, AllowDirect: true,
	}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.eng.JS.Publish(ctx, deadletter.Subject(e.kind, owner), []byte(`{"owner":"older","n":7}`)); err != nil {
		e.t.Fatal(err)
	}
	if es, err := e.store.List(ctx, owner, 0, 10); err != nil || fmt.Sprint(ns(es)) != "[7]" {
		e.t.Fatalf("older letters before open: %v %v", ns(es), err)
	}
	if err := e.store.Open(ctx, owner, "d", nil); err != nil {
		e.t.Fatal(err)
	}
	st, _ := e.eng.JS.Stream(ctx, deadletter.StreamName(e.kind, owner))
	if cfg := st.CachedInfo().Config; cfg.MaxMsgs != deadletter.DefaultLimits.MaxLetters || cfg.Discard != jetstream.DiscardNew {
		e.t.Fatalf("not bounded after open: %d %v", cfg.MaxMsgs, cfg.Discard)
	}
	if st.CachedInfo().Config.AllowDirect {
		e.t.Fatal("direct gets still allowed after open: a restarted copy could answer a list with old letters")
	}
	if es, err := e.store.List(ctx, owner, 0, 10); err != nil || fmt.Sprint(ns(es)) != "[7]" {
		e.t.Fatalf("older letters after open: %v %v", ns(es), err)
	}
}

// testReplicasFromEngine: the store makes its streams only through the
// JetStream context it is given, the engine's, which gives every stream
// engine.replicas copies (a real three-node cluster: TestStoreReplicated).
func testReplicasFromEngine(e *suiteEnv) {
	rec := &recordingJS{JetStream: e.eng.JS}
	s := deadletter.New(rec, e.kind, nil, deadletter.Limits{})
	if err := s.Open(context.Background(), "counted", "d", nil); err != nil {
		e.t.Fatal(err)
	}
	if rec.streams != 1 {
		e.t.Fatalf("%d streams made through the engine's context, want 1", rec.streams)
	}
	st, err := e.eng.JS.Stream(context.Background(), deadletter.StreamName(e.kind, "counted"))
	if err != nil || st.CachedInfo().Config.Replicas != 1 {
		e.t.Fatalf("replicas on a one-node engine: %v", err)
	}
}

type recordingJS struct {
	jetstream.JetStream
	streams int
}

func (r *recordingJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	r.streams++
	return r.JetStream.CreateOrUpdateStream(ctx, cfg)
}
