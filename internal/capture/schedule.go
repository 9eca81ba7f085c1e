package capture

import (
	"context"
	"hash/fnv"
	"time"
)

// schedule runs one timer per scheduled job and publishes each tick when
// it is due. Every process does this; the tick stream keeps one copy.
func (s *Service) schedule(ctx context.Context) {
	running := map[string]context.CancelFunc{}
	specs := map[string]*job{}
	defer func() {
		for _, stop := range running {
			stop()
		}
	}()
	changed := s.jobs.subscribe()
	for {
		want := map[string]*job{}
		for _, j := range s.jobs.all() {
			if j.spec.Every != 0 || j.cron != nil {
				want[j.name] = j
			}
		}
		for name, stop := range running {
			if w, ok := want[name]; !ok || w != specs[name] {
				stop()
				delete(running, name)
			}
		}
		for name, j := range want {
			if _, ok := running[name]; !ok {
				jctx, stop := context.WithCancel(ctx)
				running[name], specs[name] = stop, j
				go s.scheduleJob(jctx, j)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (s *Service) scheduleJob(ctx context.Context, j *job) {
	for {
		at := j.next(time.Now(), s.cc.Align)
		if at.IsZero() {
			return
		}
		t := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.publishTick(ctx, scheduledTick(j.name, at))
	}
}

// publishTick stores a tick, retrying briefly while the engine is away.
func (s *Service) publishTick(ctx context.Context, tk tick) {
	for attempt := 0; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.ticks.publish(pctx, tk)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		if attempt == 2 {
			s.log.Warn("a capture tick could not be stored", "job", tk.Job, "at", tk.At, "err", err)
			s.m.missed.WithLabelValues(tk.Job).Inc()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// next is the first tick of j strictly after now: a multiple of every
// plus the job's phase (the same instants on every process), or the cron
// schedule's next minute.
func (j *job) next(now time.Time, align bool) time.Time {
	if j.cron != nil {
		return j.cron.Next(now)
	}
	every := j.spec.Every.D()
	if every <= 0 {
		return time.Time{}
	}
	var phase time.Duration
	if !align {
		phase = j.phase(every)
	}
	return now.Add(-phase).Truncate(every).Add(every + phase)
}

// phase is the job's fixed offset within every, whole milliseconds.
func (j *job) phase(every time.Duration) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(j.name))
	return time.Duration(uint64(h.Sum32())%uint64(every.Milliseconds())) * time.Millisecond
}
