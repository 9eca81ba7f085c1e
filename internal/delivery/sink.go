package delivery

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/deadletter"
)

// sink drains one topic into one table. Many processes may run the same
// sink: they share its durable consumer, and the engine hands each batch to
// one of them.
//
// Ack rule: an event is acknowledged only after the transaction that wrote
// it commits, or after its dead letter is stored. A crash in between
// redelivers it, and the upsert makes the second write a no-op.
type sink struct {
	name    string
	cfg     *config.Sink
	table   *Table
	mapper  *rowMapper
	store   Store
	cons    jetstream.Consumer
	dls     *deadletter.Store
	dlqOpen bool // its dead-letter stream is open
	retry   deadletter.Schedule
	limiter *rate.Limiter
	m       sinkMetrics
	st      *sinkState
	log     *slog.Logger
	ready   bool // the table exists
	rows    rowCount
}

// item is one event on its way to the table.
type item struct {
	msg       jetstream.Msg
	row       Row
	attempts  int
	firstFail time.Time
}

// run drains until ctx ends. Failures are retried; nothing here gives up.
// One goroutine pulls and maps the next batches while run writes the
// current one (see pull.go), so fetching and decoding overlap the
// database's work.
func (s *sink) run(ctx context.Context) {
	for bo := s.retry.Backoff(); !s.ready && ctx.Err() == nil; bo.Wait(ctx) {
		s.ensureTable(ctx)
	}
	batches := make(chan []item, maxMerge-1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(batches)
		s.fetchLoop(ctx, batches)
	})
	for items := range batches {
		items = s.gather(items, batches)
		if ctx.Err() != nil {
			nakAll(items)
			continue
		}
		if err := s.limiter.WaitN(ctx, len(items)); err != nil {
			nakAll(items)
			continue
		}
		s.write(ctx, items)
	}
	wg.Wait()
}

// gather adds the batches already waiting to items, up to maxMerge
// batches (and the rate limiter's burst): when commits are slower than
// fetching, as when the disk's fsyncs are slow, one transaction and one
// fsync take several batches, and the sink keeps up at the database's
// pace. Without a backlog a batch is written alone, as soon as it is cut.
func (s *sink) gather(items []item, batches <-chan []item) []item {
	limit := maxMerge * s.cfg.Batch.Size
	if s.limiter.Limit() != rate.Inf {
		limit = min(limit, s.limiter.Burst())
	}
	for len(items)+s.cfg.Batch.Size <= limit {
		select {
		case more, ok := <-batches:
			if !ok {
				return items
			}
			items = append(items, more...)
		default:
			return items
		}
	}
	return items
}

// ensureTable creates the table if it is missing and records whether the
// sink is ready to write.
func (s *sink) ensureTable(ctx context.Context) {
	if err := s.store.EnsureTable(ctx, s.table); err != nil {
		s.fail(err)
		return
	}
	s.ready = true
}

// prepare maps a batch to rows (in parallel: JSON decoding is the
// sink's main cost) and dead-letters the events that cannot be rows.
func (s *sink) prepare(ctx context.Context, msgs []jetstream.Msg) []item {
	items := make([]item, len(msgs))
	errs := make([]error, len(msgs))
	parallel(len(msgs), func(i int) {
		items[i].msg = msgs[i]
		md, err := msgs[i].Metadata()
		if err != nil {
			errs[i] = err
			return
		}
		items[i].row, errs[i] = s.mapper.row(msgs[i].Data(), md.Sequence.Stream)
		items[i].row.Seq = md.Sequence.Stream
		if i == len(msgs)-1 {
			s.m.lag.Set(float64(md.NumPending))
		}
	})
	ok := items[:0]
	for i, it := range items {
		switch {
		case errs[i] == nil:
			ok = append(ok, it)
		case it.row.Seq == 0:
			_ = it.msg.Term() // not a stream message: nothing to redeliver
		default:
			s.deadLetter(ctx, &it, errs[i])
		}
	}
	return ok
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+63)/64)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		wg.Go(func() {
			for i := lo; i < min(lo+per, n); i++ {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// write upserts items in one transaction, retrying transient errors with
// backoff. When the database rejects the batch for its content, the batch
// is split in halves until the rejected events stand alone; each of those
// is tried max_attempts times and then dead-lettered, and the rest flow on.
func (s *sink) write(ctx context.Context, items []item) {
	bo := s.retry.Backoff()
	for {
		start := time.Now()
		err := s.store.Upsert(ctx, s.table, rowsOf(items))
		if err == nil {
			s.committed(items, time.Since(start))
			return
		}
		if ctx.Err() != nil {
			nakAll(items)
			return
		}
		s.fail(err)
		if errors.Is(err, ErrPermanent) {
			if len(items) > 1 {
				half := len(items) / 2
				s.write(ctx, items[:half])
				s.write(ctx, items[half:])
				return
			}
			if s.retryPermanent(ctx, &items[0], err) {
				return
			}
		}
		s.m.retries.Inc()
		inProgressAll(items)
		bo.Wait(ctx)
	}
}

// retryPermanent counts a rejection of one event; after max_attempts the
// event is dead-lettered and retryPermanent reports true.
func (s *sink) retryPermanent(ctx context.Context, it *item, err error) bool {
	it.attempts++
	if it.firstFail.IsZero() {
		it.firstFail = time.Now()
	}
	if !s.retry.GiveUp(it.attempts) {
		return false
	}
	s.deadLetter(ctx, it, err)
	return true
}

func (s *sink) committed(items []item, took time.Duration) {
	for _, it := range items {
		_ = it.msg.Ack() // a lost ack redelivers: the upsert makes that harmless
	}
	s.m.rows.Add(float64(len(items)))
	s.m.batches.Inc()
	s.m.duration.Observe(took.Seconds())
	s.st.wrote(len(items))
}

func (s *sink) fail(err error) {
	s.st.failed(err)
	s.log.Warn("sink write failed", "error", err)
}

func rowsOf(items []item) []Row {
	rows := make([]Row, len(items))
	for i, it := range items {
		rows[i] = it.row
	}
	return rows
}

func nakAll(items []item) {
	for _, it := range items {
		_ = it.msg.Nak()
	}
}

func inProgressAll(items []item) {
	for _, it := range items {
		_ = it.msg.InProgress()
	}
}
