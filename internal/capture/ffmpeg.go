package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// shot is what one ffmpeg run produced: the chosen frame in every size.
type shot struct {
	images     [][]byte // by size, in the job's order
	streamTime float64  // the frame's presentation time in the stream, s; -1 unknown
}

// runFFmpeg takes one capture of j, killing ffmpeg (and its process group)
// when the job's timeout passes.
func (s *Service) runFFmpeg(ctx context.Context, j *job) (*shot, error) {
	if s.ffmpeg == "" {
		return nil, fmt.Errorf("%w: %q (install ffmpeg or set capture.ffmpeg)", ErrNoFFmpeg, s.cc.FFmpeg)
	}
	dir, err := os.MkdirTemp("", "stadion-capture-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	timeout := j.spec.Timeout.D()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	in, sess, err := s.input(rctx, j)
	if err != nil {
		return nil, err
	}
	log := &ffmpegLog{}
	if sess != nil {
		defer sess.end()
		log.scrub = sess.original
	}
	cmd := exec.CommandContext(rctx, s.ffmpeg, ffmpegArgs(&j.spec, in, dir)...)
	ownGroup(cmd)
	cmd.WaitDelay = 2 * time.Second
	cmd.Stderr = log
	runErr := cmd.Run()
	if err := sessionFailure(sess, runErr != nil || rctx.Err() != nil); err != nil && ctx.Err() == nil {
		return nil, err
	}
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case rctx.Err() != nil:
		return nil, fmt.Errorf("ffmpeg did not finish within %v (the source is slow, stalled or unreachable)%s", timeout, log.reason(": "))
	case runErr != nil:
		return nil, fmt.Errorf("ffmpeg failed (%v)%s", runErr, log.reason(": "))
	}
	return readShot(dir, j, log)
}

// sessionFailure is why a relayed capture fails: any request refused or
// over its bound fails it even when ffmpeg coped without; when ffmpeg
// failed, the relay's first failure says why better than ffmpeg can.
func sessionFailure(sess *session, ffmpegFailed bool) error {
	if sess == nil {
		return nil
	}
	err := sess.failure()
	var big *tooLargeError
	if err != nil && (ffmpegFailed || errors.Is(err, errRefused) || errors.As(err, &big)) {
		return err
	}
	return nil
}

// readShot reads the images ffmpeg wrote.
func readShot(dir string, j *job, log *ffmpegLog) (*shot, error) {
	ext := formats[j.spec.Format].ext
	sh := &shot{streamTime: -1}
	for i, size := range j.spec.Sizes {
		img, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("s%d_01.%s", i, ext)))
		switch {
		case errors.Is(err, os.ErrNotExist) && i == 0 && j.spec.AvoidBlank:
			return nil, fmt.Errorf("no frame that is not black or flat in the first %ss of the stream%s", blankSearch, log.reason(": "))
		case errors.Is(err, os.ErrNotExist) && i == 0:
			return nil, fmt.Errorf("the source gave no video frame%s", log.reason(": "))
		case err != nil:
			return nil, fmt.Errorf("ffmpeg wrote no %s image: %w", size, err)
		}
		sh.images = append(sh.images, img)
	}
	if pts := log.ptsTimes(); len(pts) > 0 {
		sh.streamTime = pts[0]
	}
	return sh, nil
}

// ffmpegLog keeps what matters of ffmpeg's stderr: the presentation times
// the probe's showinfo prints, and the last error lines.
type ffmpegLog struct {
	mu     sync.Mutex
	buf    []byte
	pts    []float64
	errors []string
	scrub  func(string) string // puts the source's URLs back for the relay's; nil: none
	// keepPTS > 0 keeps only the last keepPTS times (a warm process runs
	// for long); ptsBase counts the ones dropped.
	keepPTS int
	ptsBase int
}

// warmKeepPTS is how many frame times a warm process's log keeps.
const warmKeepPTS = 64

func (l *ffmpegLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *ffmpegLog) line(s string) {
	if _, after, ok := strings.Cut(s, " pts_time:"); ok && strings.Contains(s, "showinfo") {
		if f, err := strconv.ParseFloat(strings.Fields(after)[0], 64); err == nil {
			l.pts = append(l.pts, f)
			if l.keepPTS > 0 && len(l.pts) > l.keepPTS {
				drop := len(l.pts) - l.keepPTS
				l.pts = append(l.pts[:0], l.pts[drop:]...)
				l.ptsBase += drop
			}
		}
		return
	}
	if strings.Contains(s, "[error]") || strings.Contains(s, "[fatal]") {
		if l.scrub != nil {
			s = l.scrub(s)
		}
		l.errors = append(l.errors, cleanLine(s))
		if len(l.errors) > 4 {
			l.errors = l.errors[1:]
		}
	}
}

// cleanLine drops ffmpeg's "[component @ 0x...] [error] " prefixes.
func cleanLine(s string) string {
	for _, lvl := range []string{"[error] ", "[fatal] "} {
		if _, after, ok := strings.Cut(s, lvl); ok {
			s = after
		}
	}
	return strings.TrimSpace(s)
}

func (l *ffmpegLog) ptsTimes() []float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]float64(nil), l.pts...)
}

// ptsOf is the presentation time of the n-th frame (from 1) the log
// saw, or -1.
func (l *ffmpegLog) ptsOf(n int) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := n - 1 - l.ptsBase; i >= 0 && i < len(l.pts) {
		return l.pts[i]
	}
	return -1
}

// reason is ffmpeg's last error lines, prefixed, or "".
func (l *ffmpegLog) reason(prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) == 0 {
		return ""
	}
	return prefix + strings.Join(l.errors, "; ")
}
