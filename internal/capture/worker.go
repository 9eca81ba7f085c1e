package capture

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// staleTick is how late a scheduled tick may be taken: after an outage the
// backlog is skipped rather than captured all at once.
const staleTick = 5 * time.Minute

// work pulls ticks, up to capture.concurrency at once, until ctx ends.
func (s *Service) work(ctx context.Context) {
	slots := make(chan struct{}, s.cc.Concurrency)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		msg, err := s.nextTick(ctx)
		if err != nil {
			<-slots
			continue
		}
		s.spawn(func() {
			defer func() { <-slots }()
			s.handle(ctx, msg)
		})
	}
}

// nextTick waits up to a few seconds for one tick.
func (s *Service) nextTick(ctx context.Context) (jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	batch, err := s.ticks.cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		s.pause(ctx, err)
		return nil, err
	}
	for msg := range batch.Messages() {
		return msg, nil
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
		s.pause(ctx, err)
		return nil, err
	}
	return nil, errNoTick
}

var errNoTick = errors.New("no tick")

func (s *Service) pause(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	s.log.Warn("fetching capture ticks", "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// handle takes the capture of one tick, telling the engine it is alive
// meanwhile, and acknowledges it when done either way. A worker that stops
// hands the tick back at once.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) {
	var tk tick
	if err := json.Unmarshal(msg.Data(), &tk); err != nil {
		s.log.Error("a capture tick does not decode", "err", err)
		_ = msg.Term()
		return
	}
	j, ok := s.jobs.get(tk.Job)
	if !ok {
		_ = msg.Ack() // the job was deleted
		return
	}
	if tk.Kind == kindSchedule && time.Since(tk.At) > staleTick {
		s.m.stale.WithLabelValues(j.name).Inc()
		_ = s.status.update(ctx, j.name, func(st *jobStatus) { st.Stale++ })
		_ = msg.Ack()
		return
	}
	stop := s.heartbeat(msg)
	err := s.capture(ctx, j, tk)
	stop()
	if ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	if err != nil {
		s.log.Warn("capture failed", "job", j.name, "tick", tk.ID, "err", err)
	}
	if err := msg.DoubleAck(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("acknowledging a capture tick", "job", j.name, "tick", tk.ID, "err", err)
	}
}

// heartbeat reports progress every third of ack_wait until stop is called.
func (s *Service) heartbeat(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	every := s.cc.AckWait.D() / 3
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}
