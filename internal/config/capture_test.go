package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestCaptureConfig(t *testing.T) {
	c, err := Parse([]byte(`
topics:
  results: {}
capture:
  jobs:
    sheet-a:
      source: http://cam/a/index.m3u8
      every: 10s
      sizes: [1280x720, 320x180]
      keyframes_only: true
      on: {topic: results, filter: {/status: OFFICIAL}}
`), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	j := c.Capture.Jobs["sheet-a"]
	if !c.Capture.Active() || j.Format != "jpeg" || j.Retention.D() != 24*time.Hour || c.Capture.FFmpeg != "ffmpeg" {
		t.Errorf("defaults: %+v %+v", c.Capture, j)
	}
	_, err = Parse([]byte(`
capture:
  jobs:
    bad:
      source: gopher://x
      every: 10s
      cron: "* * * * *"
      sizes: [1280x721]
      format: gif
      on: {topic: nope}
`), fstest.MapFS{}, ".")
	for _, want := range []string{
		"capture.jobs.bad.source", "capture.jobs.bad.every: give every or cron", "capture.jobs.bad.sizes[0]",
		"capture.jobs.bad.format", "capture.jobs.bad.on.topic: unknown topic",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestCron(t *testing.T) {
	at := time.Date(2026, 2, 4, 12, 3, 30, 0, time.UTC) // a Wednesday
	for _, c := range []struct{ expr, want string }{
		{"*/5 * * * *", "2026-02-04T12:05:00Z"},
		{"0 * * * *", "2026-02-04T13:00:00Z"},
		{"30 9 * * 1-5", "2026-02-05T09:30:00Z"},
		{"0 0 1 * *", "2026-03-01T00:00:00Z"},
		{"0 0 * * 0", "2026-02-08T00:00:00Z"},
		{"0 0 * * 7", "2026-02-08T00:00:00Z"},
		{"15,45 12 * * *", "2026-02-04T12:15:00Z"},
	} {
		cr, err := ParseCron(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := cr.Next(at).Format(time.RFC3339); got != c.want {
			t.Errorf("%s: next %s, want %s", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{"* * * *", "60 * * * *", "*/0 * * * *", "5-1 * * * *", "a * * * *"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
