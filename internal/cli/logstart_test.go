package cli

import (
	"bytes"
	"strings"
	"testing"
)

// Until the banner is printed, INFO records are DEBUG; warnings pass.
func TestStartHandlerHoldsInfoUntilBanner(t *testing.T) {
	var buf bytes.Buffer
	log, started, err := newLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("exchange ready")
	log.Warn("disk almost full")
	var banner bytes.Buffer
	bannerDone(startedWriter{&banner, started})
	log.With("service", "x").Info("after banner")
	got := buf.String()
	if strings.Contains(got, "exchange ready") || !strings.Contains(got, "disk almost full") || !strings.Contains(got, "after banner") {
		t.Errorf("logs:\n%s", got)
	}
	buf.Reset()
	debug, _, _ := newLogger(&buf, "text", "debug")
	debug.Info("exchange ready")
	if !strings.Contains(buf.String(), "level=DEBUG msg=\"exchange ready\"") {
		t.Errorf("--log-level debug lost a start-up record: %q", buf.String())
	}
}
