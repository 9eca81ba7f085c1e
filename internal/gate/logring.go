package gate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LogLine is one log record kept for `stadion venue logs`.
type LogLine struct {
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	Attrs string    `json:"attrs,omitempty"`
}

// LogRing keeps the edge's most recent log lines in memory (they are not
// persisted: after a restart the ring starts empty).
type LogRing struct {
	mu    sync.Mutex
	lines []LogLine
	next  uint64
	size  int
}

// NewLogRing keeps the last size lines.
func NewLogRing(size int) *LogRing { return &LogRing{size: size, next: 1} }

func (r *LogRing) add(l LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l.Seq = r.next
	r.next++
	r.lines = append(r.lines, l)
	if len(r.lines) > r.size {
		r.lines = append(r.lines[:0], r.lines[len(r.lines)-r.size:]...)
	}
}

// Since returns up to limit lines newer than after and not older than
// since ago, and the seq to ask after next time.
func (r *LogRing) Since(since time.Duration, after uint64, limit int) ([]LogLine, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cut := time.Now().Add(-since)
	var out []LogLine
	for _, l := range r.lines {
		if l.Seq > after && !l.Time.Before(cut) {
			out = append(out, l)
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, r.next - 1
}

// Handler returns an slog handler that writes to next and to the ring.
func (r *LogRing) Handler(next slog.Handler) slog.Handler {
	return &ringHandler{ring: r, next: next}
}

type ringHandler struct {
	ring  *LogRing
	next  slog.Handler
	attrs []slog.Attr
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	for _, a := range h.attrs {
		fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value)
		return true
	})
	h.ring.add(LogLine{Time: rec.Time, Level: rec.Level.String(), Msg: rec.Message, Attrs: strings.TrimSpace(b.String())})
	return h.next.Handle(ctx, rec)
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ringHandler{ring: h.ring, next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	return &ringHandler{ring: h.ring, next: h.next.WithGroup(name), attrs: h.attrs}
}
