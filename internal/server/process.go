package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stadion-dev/stadion/internal/ops"
)

// What the `up` and `edge` processes share around their server: the
// logger that is quiet until the banner, and the signal handling that
// drains on the first signal and quits on the second.

// NewLogger returns the server's logger and the flag that ends its
// start-up phase (startHandler): set it once the banner is printed.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, *atomic.Bool, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
	started := new(atomic.Bool)
	// The tee offers every record to the anomaly miner (ops), once `up`
	// attaches it.
	return slog.New(ops.NewLogTee(startHandler{next: h, started: started}, ops.NewLogFeed())), started, nil
}

// BannerWriter is the banner's writer: once the banner is written,
// INFO logs are shown again.
type BannerWriter struct {
	io.Writer
	Started *atomic.Bool // from NewLogger
}

// BannerDone ends the start-up phase of w's logger, if w is a BannerWriter.
func BannerDone(w io.Writer) {
	if sw, ok := w.(BannerWriter); ok {
		sw.Started.Store(true)
	}
}

// ServeUntilSignal waits for the first signal (ctx ends) or for the HTTP
// server to end, then stops the server, draining for at most drain.
func ServeUntilSignal(ctx context.Context, log *slog.Logger, done <-chan error, stop func(context.Context) error, drain time.Duration) error {
	select {
	case <-ctx.Done():
		log.Info("draining", "deadline", drain)
	case err := <-done:
		if err != nil {
			log.Error("http server failed", "err", err)
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := stop(dctx)
	log.Info("stopped", "err", err)
	return err
}

// SignalContext is cancelled by the first SIGINT/SIGTERM; a second one
// exits the process at once.
func SignalContext(parent context.Context, log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		log.Info("signal received: draining; send it again to quit at once")
		cancel()
		<-ch
		log.Warn("second signal: exiting now")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
