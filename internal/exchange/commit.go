package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/engine"
)

// Group commit: concurrent writers of one topic share the engine's fsync.
//
// With durability: always on a single node, the engine fsyncs every
// message before acknowledging it, so a topic's write rate is one over the
// disk's fsync time whatever the number of writers. An engine atomic batch
// (nats-server 2.12+, jetstream_batching.go) is stored with one fsync for
// the whole batch and acknowledged only after it (the R1 file store
// coalesces the batch's syncs into one flush, stream.go
// processJetStreamAtomicBatchMsg). A groupCommit therefore gathers the
// writes that arrive while earlier ones are being stored and sends them as
// one atomic batch: a lone writer waits for nobody (its event goes alone,
// as a plain publish), and under load a batch grows with the backlog, so
// the fsyncs shared grow with the load. A group smaller than
// commitMinBatch is written one message at a time, since the engine's
// batch has a fixed cost of its own. Every write is acknowledged only
// once the engine acknowledged its batch, so "acknowledged means on disk"
// holds as before.
//
// An atomic batch is all or nothing. When the engine refuses one (a
// duplicate Nats-Msg-Id inside it, too many batches in flight, a full
// stream), nothing of it was stored, and its writes are retried one
// message at a time, so that each gets its own answer: a duplicate its
// original receipt, a failing event its own error, its neighbours their
// acks. A batch whose answer never came (a timeout, a lost connection) is
// not retried: like a single publish that timed out, it may have been
// stored, and its writers get 503.

// Engine header names of atomic batch publishing (not exported by nats.go).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
	hdrExpStream   = "Nats-Expected-Stream"
)

const (
	// commitMaxEvents is the engine's default largest atomic batch.
	commitMaxEvents = 1000
	// commitInflight is how many batches of a topic one process has in the
	// engine at once. The engine stores a stream's messages one at a time,
	// so a second batch in flight would only wait there, and split the
	// backlog into two batches that each pay the engine's staging (a file
	// store created and removed per batch, the larger part of a batch's
	// cost in profiles). The engine allows 50 per stream in all.
	commitInflight = 1
	// commitMinBatch is the smallest group sent as an atomic batch. An R1
	// file stream stages each batch in a file store of its own, whose
	// creation writes two metadata files with O_SYNC, renames them and
	// syncs the directory, before the staged and the committed messages
	// are synced once each: a batch costs about what six to seven
	// single writes do (BenchmarkGroupCommit, docs/benchmarks.md).
	// Smaller groups are written one message at a time.
	commitMinBatch = 8
	// commitQueue bounds the writes (requests, each of 1 to maxBatch
	// events) waiting for a batch; beyond it writers wait for room within
	// their publish deadline.
	commitQueue = 4096
	// commitWait bounds one batch's round trip to the engine, as the
	// engine client's publish timeout does for a single write; it is also
	// how long a writer may wait for room in the queue.
	commitWait = batchAckWait
)

// errCommitStopped answers writes that arrive after the exchange stopped.
var errCommitStopped = errors.New("the exchange is stopping")

// groupCommit batches one topic's writes (see above). Safe for concurrent use.
type groupCommit struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	queue  chan *commitReq
	slots  chan struct{}
	stop   chan struct{}
	done   chan struct{}
	m      *commitMetrics
	topic  string
}

// commitReq is one writer's messages (one request), acknowledged together.
type commitReq struct {
	msgs []*nats.Msg
	res  chan commitRes // buffered: the committer never waits for a writer
}

type commitRes struct {
	acks []*jetstream.PubAck
	err  error
}

func newGroupCommit(nc *nats.Conn, js jetstream.JetStream, topic string, m *commitMetrics) *groupCommit {
	g := &groupCommit{
		nc: nc, js: js, stream: StreamName(topic), topic: topic, m: m,
		queue: make(chan *commitReq, commitQueue),
		slots: make(chan struct{}, commitInflight),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go g.run()
	return g
}

// write stores msgs and returns their acks, in order, once all are
// acknowledged. The messages of one call stay in one batch.
func (g *groupCommit) write(ctx context.Context, msgs []*nats.Msg) ([]*jetstream.PubAck, error) {
	select {
	case <-g.stop:
		return nil, errCommitStopped
	default:
	}
	req := &commitReq{msgs: msgs, res: make(chan commitRes, 1)}
	wait := time.NewTimer(commitWait)
	defer wait.Stop()
	select {
	case g.queue <- req:
		g.m.queued.WithLabelValues(g.topic).Add(float64(len(msgs)))
	case <-g.stop:
		return nil, errCommitStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait.C:
		return nil, fmt.Errorf("%d writes of topic %s are already waiting for the engine", commitQueue, g.topic)
	}
	select {
	case r := <-req.res:
		return r.acks, r.err
	case <-g.done:
		// Stopped, with every batch answered: a write queued after
		// the last look at the queue was never sent.
		select {
		case r := <-req.res:
			return r.acks, r.err
		default:
			return nil, errCommitStopped
		}
	case <-ctx.Done():
		// The batch goes on; its answer is dropped with the request.
		return nil, ctx.Err()
	}
}

// close stops taking writes: queued writes are answered with
// errCommitStopped, and close returns once the batches in flight are
// answered (within commitWait).
func (g *groupCommit) close() {
	close(g.stop)
	<-g.done
}

func (g *groupCommit) run() {
	defer close(g.done)
	var carry *commitReq
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-g.queue:
			case <-g.stop:
				g.refuseQueued()
				// Wait for the batches in flight to be answered.
				for range commitInflight {
					g.slots <- struct{}{}
				}
				return
			}
		}
		// While the slots are taken, writes gather in the queue: the
		// batch about to be sent grows with the backlog.
		g.slots <- struct{}{}
		group, n := []*commitReq{first}, len(first.msgs)
	gather:
		for n < commitMaxEvents {
			select {
			case r := <-g.queue:
				if n+len(r.msgs) > commitMaxEvents {
					carry = r
					break gather
				}
				group, n = append(group, r), n+len(r.msgs)
			default:
				break gather
			}
		}
		g.m.queued.WithLabelValues(g.topic).Sub(float64(n))
		go func() {
			defer func() { <-g.slots }()
			g.flush(group, n)
		}()
	}
}

func (g *groupCommit) refuseQueued() {
	for {
		select {
		case r := <-g.queue:
			g.m.queued.WithLabelValues(g.topic).Sub(float64(len(r.msgs)))
			r.res <- commitRes{err: errCommitStopped}
		default:
			return
		}
	}
}

// flush stores one group of writes and answers each of them.
func (g *groupCommit) flush(group []*commitReq, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), commitWait)
	defer cancel()
	if n < commitMinBatch {
		for range n {
			g.m.batchSize.WithLabelValues(g.topic).Observe(1)
		}
		g.oneByOne(ctx, group)
		return
	}
	g.m.batchSize.WithLabelValues(g.topic).Observe(float64(n))
	msgs := make([]*nats.Msg, 0, n)
	for _, r := range group {
		msgs = append(msgs, r.msgs...)
	}
	acks, err := g.atomic(ctx, msgs)
	var refused *batchRefused
	if errors.As(err, &refused) {
		// Nothing of the batch was stored: each write gets its own answer.
		g.m.retried.WithLabelValues(g.topic).Inc()
		g.oneByOne(ctx, group)
		return
	}
	for _, r := range group {
		if err != nil {
			r.res <- commitRes{err: err}
			continue
		}
		r.res <- commitRes{acks: acks[:len(r.msgs):len(r.msgs)]}
		acks = acks[len(r.msgs):]
	}
}

// batchRefused is the engine's definite "no" to an atomic batch: nothing of
// it was stored.
type batchRefused struct {
	code int
	desc string
}

func (e *batchRefused) Error() string {
	return fmt.Sprintf("the engine refused the batch (%d): %s", e.code, e.desc)
}

// atomic publishes msgs as one engine atomic batch and returns each
// message's ack. Only the commit asks for an answer: the engine stages
// the others in order (same connection) and answers the commit once the
// whole batch is stored and synced.
func (g *groupCommit) atomic(ctx context.Context, msgs []*nats.Msg) ([]*jetstream.PubAck, error) {
	id := nuid.Next()
	var resp *nats.Msg
	for i, m := range msgs {
		bm := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: make(nats.Header, len(m.Header)+4)}
		for k, v := range m.Header {
			bm.Header[k] = v
		}
		bm.Header[hdrExpStream] = []string{g.stream}
		bm.Header[hdrBatchID] = []string{id}
		bm.Header[hdrBatchSeq] = []string{strconv.Itoa(i + 1)}
		if i < len(msgs)-1 {
			if err := g.nc.PublishMsg(bm); err != nil {
				return nil, err
			}
			continue
		}
		bm.Header[hdrBatchCommit] = []string{"1"}
		var err error
		if resp, err = g.nc.RequestMsgWithContext(ctx, bm); err != nil {
			return nil, err
		}
	}
	var ack struct {
		Stream string `json:"stream"`
		Seq    uint64 `json:"seq"`
		Batch  string `json:"batch"`
		Count  int    `json:"count"`
		Error  *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, fmt.Errorf("the engine's answer to a batch is not JSON: %w", err)
	}
	if ack.Error != nil {
		return nil, &batchRefused{code: ack.Error.Code, desc: ack.Error.Description}
	}
	if ack.Batch != id || ack.Count != len(msgs) || ack.Seq < uint64(len(msgs)) {
		return nil, fmt.Errorf("the engine acknowledged batch %q of %d events for batch %q of %d", ack.Batch, ack.Count, id, len(msgs))
	}
	// A committed batch is stored contiguously (the engine isolates the
	// stream while it commits), ending at ack.Seq.
	acks := make([]jetstream.PubAck, len(msgs))
	out := make([]*jetstream.PubAck, len(msgs))
	first := ack.Seq - uint64(len(msgs)) + 1
	for i := range acks {
		acks[i] = jetstream.PubAck{Stream: ack.Stream, Sequence: first + uint64(i)}
		out[i] = &acks[i]
	}
	return out, nil
}

// oneByOne publishes every message on its own (each with its own fsync)
// and answers each write with its own acks or its first error.
func (g *groupCommit) oneByOne(ctx context.Context, group []*commitReq) {
	futures := make([][]jetstream.PubAckFuture, len(group))
	errs := make([]error, len(group))
	for i, r := range group {
		for _, m := range r.msgs {
			f, err := g.js.PublishMsgAsync(m, jetstream.WithExpectStream(g.stream), jetstream.WithStallWait(commitWait))
			if err != nil {
				errs[i] = err
				break
			}
			futures[i] = append(futures[i], f)
		}
	}
	for i, r := range group {
		acks := make([]*jetstream.PubAck, 0, len(r.msgs))
		for _, f := range futures[i] {
			ack, err := engine.AwaitAck(ctx, f)
			if err != nil {
				errs[i] = err
				break
			}
			acks = append(acks, ack)
		}
		if errs[i] != nil {
			r.res <- commitRes{err: errs[i]}
			continue
		}
		r.res <- commitRes{acks: acks}
	}
}

// commitMetrics show how much the writes of a topic share.
type commitMetrics struct {
	batchSize *prometheus.HistogramVec
	queued    *prometheus.GaugeVec
	retried   *prometheus.CounterVec
}

func newCommitMetrics(reg prometheus.Registerer) *commitMetrics {
	m := &commitMetrics{
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stadion_exchange_commit_batch_events",
			Help:    "Events stored per engine write (one fsync with durability: always) by the group commit.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000},
		}, []string{"topic"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stadion_exchange_commit_queued_events",
			Help: "Events waiting for the group commit's next engine write (at most 4096 writes per topic).",
		}, []string{"topic"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_exchange_commit_refused_batches_total",
			Help: "Batches the engine refused as a whole (a duplicate id inside, too many in flight), whose events were then written one by one.",
		}, []string{"topic"}),
	}
	reg.MustRegister(m.batchSize, m.queued, m.retried)
	return m
}

// groupCommits reports whether writes to stream s go through a group
// commit: with durability: always on a single-copy stream whose engine
// took atomic batches (an external engine older than nats-server 2.12
// ignores the setting, and then every write goes on its own). A
// replicated stream already syncs behind its Raft log.
func (x *Exchange) groupCommits(s jetstream.Stream) bool {
	cfg := s.CachedInfo().Config
	return x.nc != nil && x.cfg.Durability == config.DurabilityAlways && cfg.AllowAtomicPublish && cfg.Replicas <= 1
}
