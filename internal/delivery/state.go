package delivery

import (
	"context"
	"sync"
	"time"
)

// sinkState is what this process knows of a sink: whether it is paused
// (shared by all replicas through the stadion-sinks bucket), what it wrote
// and its last error.
type sinkState struct {
	mu        sync.Mutex
	paused    bool
	changed   chan struct{} // closed and replaced when paused changes
	rows      uint64
	buckets   [rateWindow]uint64 // rows per second, ring indexed by unix second
	stamps    [rateWindow]int64
	lastErr   string
	lastErrAt time.Time
	lastOKAt  time.Time // the last committed batch
}

// rateWindow is how many seconds the reported rate averages over.
const rateWindow = 10

func newSinkState() *sinkState { return &sinkState{changed: make(chan struct{})} }

func (s *sinkState) setPaused(p bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused != p {
		s.paused = p
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// waitWhilePaused returns once the sink is not paused, or ctx's error.
func (s *sinkState) waitWhilePaused(ctx context.Context) error {
	for {
		s.mu.Lock()
		paused, ch := s.paused, s.changed
		s.mu.Unlock()
		if !paused {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (s *sinkState) wrote(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows += uint64(n)
	s.lastOKAt = time.Now().UTC()
	now := time.Now().Unix()
	i := now % rateWindow
	if s.stamps[i] != now {
		s.stamps[i], s.buckets[i] = now, 0
	}
	s.buckets[i] += uint64(n)
}

func (s *sinkState) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastErrAt = err.Error(), time.Now().UTC()
}

// snapshot fills the process-local parts of a Status.
func (s *sinkState) snapshot(st *Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.State = "running"
	if s.paused {
		st.State = "paused"
	}
	st.RowsWritten = s.rows
	now := time.Now().Unix()
	var sum uint64
	for i := range rateWindow {
		if now-s.stamps[i] < rateWindow && s.stamps[i] != now {
			sum += s.buckets[i]
		}
	}
	st.RowsPerSec = float64(sum) / (rateWindow - 1)
	st.LastError = s.lastErr
	if !s.lastErrAt.IsZero() {
		t := s.lastErrAt
		st.LastErrorAt = &t
	}
}

// untilPaused is ctx, also cancelled when the sink is paused. Its stop
// function must be called to release the goroutine that watches.
func (s *sinkState) untilPaused(ctx context.Context) (context.Context, context.CancelFunc) {
	pctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			s.mu.Lock()
			paused, ch := s.paused, s.changed
			s.mu.Unlock()
			if paused {
				cancel()
				return
			}
			select {
			case <-pctx.Done():
				return
			case <-ch:
			}
		}
	}()
	return pctx, cancel
}
