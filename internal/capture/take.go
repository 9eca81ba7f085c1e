package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// capture takes, stores and announces one tick's frame, retrying a failed
// attempt with backoff, and records the outcome in the job's status.
func (s *Service) capture(ctx context.Context, j *job, tk tick) error {
	var err error
	backoff := s.cc.Backoff.D()
	for attempt := 0; attempt <= s.cc.Retries; attempt++ {
		if attempt > 0 {
			s.m.retries.WithLabelValues(j.name).Inc()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		if err = s.attempt(ctx, j, tk); err == nil || ctx.Err() != nil {
			return err
		}
	}
	s.m.captures.WithLabelValues(j.name, "error").Inc()
	s.record(ctx, j.name, func(st *jobStatus) { st.recordFailure(err) })
	return err
}

// attempt runs ffmpeg once and stores the frame.
func (s *Service) attempt(ctx context.Context, j *job, tk tick) error {
	mark, err := s.checkStall(ctx, j)
	if err != nil {
		return err
	}
	sh, err := s.shoot(ctx, j, tk)
	if err != nil {
		return err
	}
	fr := &Frame{ID: tk.ID, Job: j.name, Trigger: tk.Kind, TickAt: tk.At, Format: j.spec.Format}
	if sh.streamTime >= 0 {
		fr.StreamTime = &sh.streamTime
	}
	if err := s.frames.put(ctx, j, fr, sh); err != nil {
		return err
	}
	fr.CapturedAt = time.Now().UTC()
	latency := fr.CapturedAt.Sub(tk.At)
	s.m.captures.WithLabelValues(j.name, "ok").Inc()
	s.m.latency.Observe(latency.Seconds())
	s.record(ctx, j.name, func(st *jobStatus) {
		st.recordSuccess(fr, latency)
		if mark != nil {
			st.Playlist = mark
		}
	})
	s.announce(ctx, fr)
	return nil
}

// shoot takes tk's frame from j's warm ffmpeg when it can, else with a
// one-shot ffmpeg.
func (s *Service) shoot(ctx context.Context, j *job, tk tick) (*shot, error) {
	warm := s.warm.usable(j, tk)
	if warm {
		sh, err := s.warm.take(ctx, j, tk)
		if err == nil || ctx.Err() != nil {
			return sh, err
		}
		s.log.Debug("warm capture unavailable", "job", j.name, "err", err)
	}
	start := time.Now()
	sh, err := s.runFFmpeg(ctx, j)
	s.m.ffmpegSeconds.Observe(time.Since(start).Seconds())
	if err == nil && warm {
		s.warm.shot(j, sh)
	}
	return sh, err
}

// checkStall reads an HLS source's playlist first: a clearer error than
// ffmpeg's for a missing stream, and the only way to notice a live stream
// whose playlist stopped changing.
func (s *Service) checkStall(ctx context.Context, j *job) (*playlistMark, error) {
	if !isHLS(j.spec.Source) {
		return nil, nil
	}
	pl, err := fetchPlaylist(ctx, s.fetcherOf(j), j.spec.Source)
	if err != nil {
		return nil, err
	}
	st, _, err := s.status.get(ctx, j.name)
	if err != nil {
		return nil, err
	}
	return checkPlaylist(pl, st.Playlist, time.Now())
}

func (s *Service) record(ctx context.Context, job string, change func(*jobStatus)) {
	if err := s.status.update(context.WithoutCancel(ctx), job, change); err != nil {
		s.log.Warn("recording capture status", "job", job, "err", err)
	}
}

// announce publishes the frame on the thumbnails topic, once per capture
// ID even when a tick was captured twice.
func (s *Service) announce(ctx context.Context, fr *Frame) {
	if s.ann == nil {
		return
	}
	ev := *fr
	ev.Sizes = make([]FrameSize, len(fr.Sizes))
	for i, sz := range fr.Sizes {
		sz.URL = frameURL(fr.Job, sz.Object)
		ev.Sizes[i] = sz
	}
	raw, _ := json.Marshal(ev)
	if _, err := s.ann.Publish(context.WithoutCancel(ctx), s.cc.Topic, "capture", raw, fr.ID); err != nil {
		s.log.Warn("announcing a thumbnail", "job", fr.Job, "frame", fr.ID, "err", err)
	}
}

// frameURL is the API path of one stored image.
func frameURL(job, object string) string {
	return fmt.Sprintf("/v1/capture/jobs/%s/frames/%s", job, object)
}
