package server

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// startHandler holds the INFO records of start-up (services saying they
// are ready, configurations published) at DEBUG until the banner is
// printed, so that the banner, with the URLs and the admin key, is the
// first thing on screen. Warnings and errors always pass: a problem during
// start-up is shown at once. --log-level debug shows everything.
type startHandler struct {
	next    slog.Handler
	started *atomic.Bool
}

func (h startHandler) level(l slog.Level) slog.Level {
	if l == slog.LevelInfo && !h.started.Load() {
		return slog.LevelDebug
	}
	return l
}

// Enabled answers for the record's own level, so that handlers wrapped
// around this one (the edge's log ring, read over its link; the anomaly
// miner) still see start-up records at INFO; only the screen is quiet.
func (h startHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h startHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = h.level(r.Level)
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h startHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return startHandler{next: h.next.WithAttrs(as), started: h.started}
}

func (h startHandler) WithGroup(name string) slog.Handler {
	return startHandler{next: h.next.WithGroup(name), started: h.started}
}
