package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// slogAdapter sends the embedded server's log lines to slog. Trace lines,
// which can carry message payloads, are never enabled. The server's notices
// while it starts (its banner, ASCII art, version, limits, store
// directory: some 30 lines) are DEBUG, so that stadion's own banner is the
// first thing an operator sees; once the engine is ready its notices
// (routes, leafnodes, leaders elected) are INFO again.
type slogAdapter struct {
	log   *slog.Logger
	ready atomic.Bool
}

func (a *slogAdapter) Noticef(format string, v ...any) {
	level := slog.LevelInfo
	if !a.ready.Load() {
		level = slog.LevelDebug
	}
	if a.log.Enabled(context.Background(), level) {
		a.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}
func (a *slogAdapter) Warnf(format string, v ...any)  { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Fatalf(format string, v ...any) { a.log.Error(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Errorf(format string, v ...any) { a.log.Error(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Debugf(format string, v ...any) { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Tracef(string, ...any)          {}
