package ops

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// LogLine is one log record or engine advisory offered to the miner.
type LogLine struct {
	Time      time.Time
	Level     slog.Level
	Component string
	Text      string
	// Message is the record's message alone, when known: a class opened
	// by it is named after it (masked), so that replicas name the same
	// class alike and its anomaly is one alert.
	Message string
}

// LogFeed carries log lines from a LogTee to the anomaly miner: a bounded
// queue (4096 lines) that never blocks the logger; a line that finds it
// full, or finds no miner attached, is counted and dropped.
type LogFeed struct {
	ch       chan LogLine
	attached atomic.Bool
	dropped  atomic.Int64
}

const feedCap = 4096

// NewLogFeed returns a feed with nothing attached yet.
func NewLogFeed() *LogFeed { return &LogFeed{ch: make(chan LogLine, feedCap)} }

// Offer queues a line if a miner is attached and there is room.
func (f *LogFeed) Offer(l LogLine) {
	if f == nil || !f.attached.Load() {
		return
	}
	select {
	case f.ch <- l:
	default:
		f.dropped.Add(1)
	}
}

// Dropped is the number of lines that found the queue full.
func (f *LogFeed) Dropped() int64 { return f.dropped.Load() }

// LogTee is an slog.Handler that passes every record to the handler it
// wraps and offers it, as one line, to a LogFeed. The line is the message
// and its attributes as key=value; the component is the record's
// "service" (or "component") attribute, else "stadion".
type LogTee struct {
	inner     slog.Handler
	feed      *LogFeed
	prefix    string // attributes added with WithAttrs, rendered
	group     string
	component string
}

// NewLogTee wraps h; its lines go to feed.
func NewLogTee(h slog.Handler, feed *LogFeed) *LogTee {
	return &LogTee{inner: h, feed: feed, component: "stadion"}
}

// Feed is the tee's feed (for the ops capability to attach its miner).
func (t *LogTee) Feed() *LogFeed { return t.feed }

// Enabled is the wrapped handler's: the miner sees what the log shows.
func (t *LogTee) Enabled(ctx context.Context, l slog.Level) bool { return t.inner.Enabled(ctx, l) }

// Handle writes the record, then offers it to the feed.
func (t *LogTee) Handle(ctx context.Context, r slog.Record) error {
	err := t.inner.Handle(ctx, r)
	if t.feed == nil || !t.feed.attached.Load() {
		return err
	}
	var b strings.Builder
	b.Grow(len(r.Message) + len(t.prefix) + 64)
	b.WriteString(r.Message)
	b.WriteString(t.prefix)
	comp := t.component
	r.Attrs(func(a slog.Attr) bool {
		if c, ok := componentOf(a); ok {
			comp = c
		}
		writeAttr(&b, t.group, a)
		return true
	})
	t.feed.Offer(LogLine{Time: r.Time, Level: r.Level, Component: comp, Text: b.String(), Message: r.Message})
	return err
}

// WithAttrs keeps the attributes for the inner handler and the lines.
func (t *LogTee) WithAttrs(as []slog.Attr) slog.Handler {
	n := *t
	n.inner = t.inner.WithAttrs(as)
	var b strings.Builder
	b.WriteString(t.prefix)
	for _, a := range as {
		if c, ok := componentOf(a); ok {
			n.component = c
		}
		writeAttr(&b, t.group, a)
	}
	n.prefix = b.String()
	return &n
}

// WithGroup qualifies later attributes.
func (t *LogTee) WithGroup(name string) slog.Handler {
	n := *t
	n.inner = t.inner.WithGroup(name)
	if name != "" {
		n.group = t.group + name + "."
	}
	return &n
}

func componentOf(a slog.Attr) (string, bool) {
	if (a.Key == "service" || a.Key == "component") && a.Value.Kind() == slog.KindString {
		return a.Value.String(), true
	}
	return "", false
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			writeAttr(b, group+a.Key+".", g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteByte('=')
	b.WriteString(a.Value.Resolve().String())
}
