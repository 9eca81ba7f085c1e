package server

import (
	"log/slog"
	"testing"
)

func TestPprofOnlyOnLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "[::1]:0": true, "localhost:0": true, "0.0.0.0:0": false, ":0": false, "10.1.2.3:0": false} {
		stop, err := ServePprof(addr, slog.New(slog.DiscardHandler))
		if ok != (err == nil) {
			t.Errorf("%s: err %v, want allowed=%v", addr, err, ok)
		}
		if stop != nil {
			stop()
		}
	}
}
