package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/gate"
)

// Until the banner is printed, INFO records are DEBUG; warnings pass.
func TestStartHandlerHoldsInfoUntilBanner(t *testing.T) {
	var buf bytes.Buffer
	log, started, err := NewLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("exchange ready")
	log.Warn("disk almost full")
	var banner bytes.Buffer
	BannerDone(BannerWriter{&banner, started})
	log.With("service", "x").Info("after banner")
	got := buf.String()
	if strings.Contains(got, "exchange ready") || !strings.Contains(got, "disk almost full") || !strings.Contains(got, "after banner") {
		t.Errorf("logs:\n%s", got)
	}
	// A handler wrapped around it (the edge's log ring, read remotely)
	// still gets start-up records at INFO; only the screen is quiet.
	buf.Reset()
	quiet, _, _ := NewLogger(&buf, "text", "info")
	ring := gate.NewLogRing(10)
	slog.New(ring.Handler(quiet.Handler())).Info("edge state replayed")
	lines, _ := ring.Since(time.Hour, 0, 10)
	if len(lines) != 1 || strings.Contains(buf.String(), "edge state replayed") {
		t.Errorf("ring %v, screen %q", lines, buf.String())
	}
	buf.Reset()
	debug, _, _ := NewLogger(&buf, "text", "debug")
	debug.Info("exchange ready")
	if !strings.Contains(buf.String(), "level=DEBUG msg=\"exchange ready\"") {
		t.Errorf("--log-level debug lost a start-up record: %q", buf.String())
	}
}
