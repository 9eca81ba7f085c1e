package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Events reach a sink through a continuous pull: the engine streams them
// into a buffer of at most prefetch events while the sink decodes the
// previous batch and the database writes the one before. So fetching,
// decoding, writing and acknowledging overlap, and no batch waits for a
// round trip to the engine. The depth is bounded three times: the buffer
// (prefetch events), the hand-over channel (maxMerge-1 batches) and the consumer's
// MaxAckPending, which stops the engine from handing out more events than
// the sink has yet to acknowledge.

// prefetchBatches is how many batches the pull buffer holds.
const prefetchBatches = 2

// maxMerge is how many waiting batches one transaction may take (see
// sink.gather); the hand-over channel holds maxMerge-1.
const maxMerge = 4

// maxInFlight is how many batches a sink may hold unacknowledged (the
// consumer's MaxAckPending, in batches): the buffer, the batch being
// decoded, those waiting in the channel, those being written. With
// fewer, the engine stops the pull while the database writes and the
// stages run in turn.
const maxInFlight = prefetchBatches + 1 + (maxMerge - 1) + maxMerge

// pullExpiry is how long one pull request stays open at the engine; the
// iterator renews it before it runs out.
const pullExpiry = 5 * time.Second

// fetchLoop pulls events, maps them to rows and hands batches to out until
// ctx ends. A pause stops the pull; what was already buffered is handed
// on, and the pull starts again on resume.
func (s *sink) fetchLoop(ctx context.Context, out chan<- []item) {
	for bo := s.retry.Backoff(); ctx.Err() == nil; {
		if s.st.waitWhilePaused(ctx) != nil {
			return
		}
		it, err := s.cons.Messages(jetstream.PullMaxMessages(prefetchBatches*s.cfg.Batch.Size),
			jetstream.PullExpiry(pullExpiry))
		if err != nil {
			s.fail(err)
			bo.Wait(ctx)
			continue
		}
		err = s.pull(ctx, it, out)
		s.drain(ctx, it, out)
		switch {
		case err != nil && ctx.Err() == nil:
			s.fail(err)
			bo.Wait(ctx)
		case err == nil:
			bo.Reset()
		}
	}
}

// pull hands batches from it to out until the sink is paused (nil), ctx
// ends or the pull fails.
func (s *sink) pull(ctx context.Context, it jetstream.MessagesContext, out chan<- []item) error {
	pctx, stop := s.st.untilPaused(ctx)
	defer stop()
	for {
		msgs, err := s.collect(pctx, it)
		if !s.handOver(ctx, msgs, out) {
			return ctx.Err()
		}
		switch {
		case pctx.Err() != nil:
			return ctx.Err() // paused (nil) or stopping
		case err != nil:
			return err
		}
	}
}

// collect waits for a first event, then up to batch.max_wait for the
// batch to fill. Events already buffered are taken without waiting.
func (s *sink) collect(ctx context.Context, it jetstream.MessagesContext) ([]jetstream.Msg, error) {
	first, err := it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return nil, err
	}
	msgs := make([]jetstream.Msg, 1, s.cfg.Batch.Size)
	msgs[0] = first
	wait := max(s.cfg.Batch.MaxWait.D(), 10*time.Millisecond)
	bctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for len(msgs) < s.cfg.Batch.Size {
		m, err := it.Next(jetstream.NextContext(bctx))
		if err != nil {
			if bctx.Err() != nil {
				return msgs, nil // the batch's time is up, or paused
			}
			return msgs, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// drain stops it and hands on the events it had buffered (naks them when
// ctx has ended), so that none waits for the engine's ack_wait.
func (s *sink) drain(ctx context.Context, it jetstream.MessagesContext, out chan<- []item) {
	it.Drain()
	var msgs []jetstream.Msg
	for {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				it.Stop()
			}
			break
		}
		msgs = append(msgs, m)
		if len(msgs) == s.cfg.Batch.Size {
			s.handOver(ctx, msgs, out)
			msgs = nil
		}
	}
	s.handOver(ctx, msgs, out)
}

// handOver maps msgs to rows and sends them to out; when ctx ends first
// it naks them and reports false.
func (s *sink) handOver(ctx context.Context, msgs []jetstream.Msg, out chan<- []item) bool {
	if ctx.Err() != nil {
		for _, m := range msgs {
			_ = m.Nak()
		}
		return false
	}
	items := s.prepare(ctx, msgs)
	if len(items) == 0 {
		return true
	}
	select {
	case out <- items:
		return true
	case <-ctx.Done():
		nakAll(items)
		return false
	}
}
