package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"time"
)

// Warm capture: a scheduled keyframes_only job keeps one ffmpeg running
// between its ticks (up to capture.warm processes), so that a tick costs
// a frame and not ffmpeg's start-up and stream probing. The process reads
// the stream continuously, decodes keyframes only (the decoder skips the
// rest: -discard does not reach the HLS demuxer's inner one), and lets a
// keyframe through the filter graph when at least every/2 of stream time
// has passed since the last one it let through: two frames per cadence.
// Blank frames are dropped after that choice; the images are written
// atomically, numbered, one file per size.
//
// A tick takes the newest frame not taken before, if it was written less
// than every/2 + warmSlack before the tick was due, else waits for the
// next one. When none comes in time, or the warm process is not running
// or was only just started by this tick, the attempt falls back to the one-shot ffmpeg, which also searches past
// blank frames. So ticks, retries, timeouts and blank-frame rejection
// keep their meaning, and a broken warm process costs a start-up per
// tick, never a tick.
//
// Bounds: at most capture.warm processes; one per job; killed when the job
// has not used it for three cadences (at least 30 s) or changed, and
// renewed after warmMaxLife so that a relay session's byte cap stays far;
// restarted after a failure with a doubling backoff (at most
// warmBackoffMax); a relay refusal kills it; frames taken or passed over
// are deleted at once; stderr is parsed line by line into a bounded log.

const (
	warmMaxLife    = 10 * time.Minute
	warmMinIdle    = 30 * time.Second
	warmBackoffMax = 2 * time.Minute
	warmPoll       = 25 * time.Millisecond
	// warmSlack is how much more than half a cadence before its tick a
	// frame may have been written, and how long a tick waits for one, at
	// least: keyframes come a second or two apart, and a live stream's
	// segment reaches ffmpeg a segment or two after it was shot.
	warmSlack = 2 * time.Second
)

// errWarmUnavailable means no warm frame: the caller runs ffmpeg once.
var errWarmUnavailable = errors.New("no warm frame")

type warmPool struct {
	s   *Service
	max int

	mu    sync.Mutex
	procs map[string]*warmProc // by job name
	shown map[string]float64   // by job name: the stream time of its last frame, any path
}

type warmProc struct {
	job     string
	spec    any // the job's spec when started; another spec restarts it
	dir     string
	cmd     *exec.Cmd
	log     *ffmpegLog
	sess    *session
	started time.Time
	done    chan struct{} // closed when ffmpeg has exited
	err     error         // why it exited, once done

	// Guarded by the pool's mutex.
	lastUsed  time.Time
	taken     int // the last frame number handed out or passed over
	failures  int
	failedAt  time.Time
	nextStart time.Time
}

func newWarmPool(s *Service, max int) *warmPool {
	return &warmPool{s: s, max: max, procs: map[string]*warmProc{}, shown: map[string]float64{}}
}

// usable reports whether tk of j may be captured warm: a scheduled tick
// of a job with a cadence that decodes keyframes only, and a pool. A warm
// process decoding every frame would spend more between two ticks than a
// one-shot ffmpeg spends on one capture.
func (p *warmPool) usable(j *job, tk tick) bool {
	return p != nil && p.max > 0 && tk.Kind == kindSchedule && j.spec.Every.D() > 0 && j.cron == nil && j.spec.KeyframesOnly
}

// take waits for the frame of tick tk from j's warm process, starting the
// process when needed. errWarmUnavailable (wrapped) means: run ffmpeg once.
func (p *warmPool) take(ctx context.Context, j *job, tk tick) (*shot, error) {
	w, fresh, err := p.get(j)
	if err != nil {
		return nil, err
	}
	if fresh {
		// A new process probes the stream first: this tick does not wait.
		return nil, fmt.Errorf("%w: the warm ffmpeg is starting", errWarmUnavailable)
	}
	every := j.spec.Every.D()
	since := tk.At.Add(-every/2 - warmSlack)
	wait := min(j.spec.Timeout.D(), max(every/2, warmSlack))
	deadline := time.Now().Add(wait)
	for {
		if w.sess != nil && w.sess.failure() != nil {
			p.kill(w) // refused by the relay: no frame will come
			return nil, fmt.Errorf("%w: %v", errWarmUnavailable, w.sess.failure())
		}
		if sh, ok := p.next(w, j, since); ok {
			return sh, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.done:
			return nil, fmt.Errorf("%w: the warm ffmpeg exited (%v)", errWarmUnavailable, w.err)
		case <-time.After(warmPoll):
		}
		if time.Now().After(deadline) {
			p.s.m.warmMisses.Inc()
			return nil, fmt.Errorf("%w: none within %v", errWarmUnavailable, wait)
		}
	}
}

// get returns j's running warm process (fresh: just started), starting
// one when there is room and no backoff holds it back.
func (p *warmPool) get(j *job) (w *warmProc, fresh bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	old := p.procs[j.name]
	if old != nil {
		select {
		case <-old.done:
			if !old.failedAt.IsZero() && now.Before(old.nextStart) {
				old.lastUsed = now
				return nil, false, fmt.Errorf("%w: restarting after a failure at %s (%v)", errWarmUnavailable, old.failedAt.Format(time.TimeOnly), old.err)
			}
		default:
			if reflect.DeepEqual(old.spec, j.spec) && now.Sub(old.started) < warmMaxLife {
				old.lastUsed = now
				return old, false, nil
			}
			old.stop() // renewed, or the job changed
		}
	}
	if old == nil && len(p.procs) >= p.max {
		p.s.m.warmFull.Inc()
		return nil, false, fmt.Errorf("%w: capture.warm (%d) processes run already", errWarmUnavailable, p.max)
	}
	w, err = p.start(j)
	if err != nil {
		p.s.m.warmStarts.WithLabelValues("error").Inc()
		return nil, false, fmt.Errorf("%w: %v", errWarmUnavailable, err)
	}
	p.s.m.warmStarts.WithLabelValues("ok").Inc()
	if old != nil {
		w.failures = old.failures
	}
	w.lastUsed = now
	p.procs[j.name] = w
	p.s.m.warmProcs.Set(float64(len(p.procs)))
	return w, true, nil
}

// start runs ffmpeg for j in a fresh directory. Called with p.mu held.
func (p *warmPool) start(j *job) (*warmProc, error) {
	s := p.s
	if s.ffmpeg == "" {
		return nil, ErrNoFFmpeg
	}
	dir, err := os.MkdirTemp("", "stadion-warm-*")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	in, sess, err := s.input(ctx, j)
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, err
	}
	w := &warmProc{job: j.name, spec: j.spec, dir: dir, started: time.Now(), done: make(chan struct{}),
		log: &ffmpegLog{keepPTS: warmKeepPTS}, sess: sess}
	if sess != nil {
		w.log.scrub = sess.original
	}
	w.cmd = exec.CommandContext(ctx, s.ffmpeg, warmArgs(&j.spec, in, dir)...)
	ownGroup(w.cmd)
	w.cmd.WaitDelay = 2 * time.Second
	w.cmd.Stderr = w.log
	if err := w.cmd.Start(); err != nil {
		cancel()
		if sess != nil {
			sess.end()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		err := w.cmd.Wait()
		if err == nil {
			err = errors.New("ffmpeg ended")
		}
		w.err = fmt.Errorf("%v%s", err, w.log.reason(": "))
		if f := sessionFailure(sess, true); f != nil {
			w.err = f
		}
		cancel()
		if sess != nil {
			sess.end()
		}
		os.RemoveAll(dir)
		close(w.done)
		p.exited(w)
	}()
	return w, nil
}

// exited records an ended process: a failure unless it was stopped.
func (p *warmPool) exited(w *warmProc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.procs[w.job] != w {
		return // replaced or stopped on purpose
	}
	w.failures++
	w.failedAt = time.Now()
	w.nextStart = w.failedAt.Add(min(warmBackoffMax, time.Second<<min(w.failures, 7)))
	p.s.m.warmExits.Inc()
	p.s.log.Warn("warm ffmpeg exited; ticks use one-shot ffmpeg until it restarts", "job", w.job, "err", w.err, "retry_at", w.nextStart)
}

// kill stops w and forgets it, so that the next tick starts another
// after a backoff.
func (p *warmPool) kill(w *warmProc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.stop()
}

// stop kills the process (its exit then cleans up). Called with p.mu held.
func (w *warmProc) stop() {
	if w.cmd.Cancel != nil {
		_ = w.cmd.Cancel()
	}
}

// next hands out the newest complete frame not handed out before, if it
// was written at or after since, and deletes it and every older one.
func (p *warmPool) next(w *warmProc, j *job, since time.Time) (*shot, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ext := formats[j.spec.Format].ext
	name := func(i, n int) string { return filepath.Join(w.dir, fmt.Sprintf("s%d_%06d.%s", i, n, ext)) }
	newest := w.taken
	for _, err := os.Stat(name(0, newest+1)); err == nil; _, err = os.Stat(name(0, newest+1)) {
		newest++
	}
	for n := newest; n > w.taken; n-- {
		fi, err := os.Stat(name(0, n))
		if err != nil || fi.ModTime().Before(since) {
			return nil, false
		}
		sh := &shot{streamTime: w.log.ptsOf(n)}
		if last, ok := p.shown[j.name]; ok && sh.streamTime >= 0 && sh.streamTime <= last {
			return nil, false // the job's last frame (maybe a one-shot's) was this one or newer
		}
		for i := range j.spec.Sizes {
			img, err := os.ReadFile(name(i, n))
			if err != nil {
				break // another size of frame n is not written yet
			}
			sh.images = append(sh.images, img)
		}
		if len(sh.images) < len(j.spec.Sizes) {
			continue
		}
		for old := w.taken + 1; old <= n; old++ {
			for i := range j.spec.Sizes {
				_ = os.Remove(name(i, old))
			}
		}
		w.taken = n
		w.failures = 0
		if sh.streamTime >= 0 {
			p.shown[j.name] = sh.streamTime
		}
		p.s.m.warmFrames.Inc()
		return sh, true
	}
	return nil, false
}

// shot records the stream time of the frame j's tick got, from either
// path, so that the next warm frame is a newer one: a one-shot capture
// and a warm process just started both take the newest segment's first
// keyframe.
func (p *warmPool) shot(j *job, sh *shot) {
	if p == nil || sh.streamTime < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shown[j.name] = sh.streamTime
}

// reap stops processes whose job has not used them for three cadences,
// and forgets failed ones that stayed unused as long.
func (p *warmPool) reap(now time.Time, jobs map[string]*job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, w := range p.procs {
		idle := warmMinIdle
		if j := jobs[name]; j != nil {
			idle = max(idle, 3*j.spec.Every.D())
		}
		if j := jobs[name]; j == nil || !reflect.DeepEqual(j.spec, w.spec) || now.Sub(w.lastUsed) > idle {
			delete(p.procs, name)
			w.stop()
		}
	}
	for name := range p.shown {
		if jobs[name] == nil {
			delete(p.shown, name)
		}
	}
	p.s.m.warmProcs.Set(float64(len(p.procs)))
}

// stopAll kills every warm process and waits for them to exit.
func (p *warmPool) stopAll(ctx context.Context) {
	p.mu.Lock()
	procs := p.procs
	p.procs = map[string]*warmProc{}
	for _, w := range procs {
		w.stop()
	}
	p.mu.Unlock()
	for _, w := range procs {
		select {
		case <-w.done:
		case <-ctx.Done():
			return
		}
	}
	p.s.m.warmProcs.Set(0)
}

// reapWarm stops idle warm processes every few seconds until ctx ends.
func (s *Service) reapWarm(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			jobs := map[string]*job{}
			for _, j := range s.jobs.all() {
				jobs[j.name] = j
			}
			s.warm.reap(now, jobs)
		}
	}
}
