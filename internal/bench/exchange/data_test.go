package exchange

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stadion-dev/stadion/internal/config"
	"github.com/stadion-dev/stadion/internal/server"
)

func TestExchangeFixture(t *testing.T) {
	fx, err := newExchangeFixture(100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, data %d B, envelope %d B on average", len(fx.data), fx.dataSize, fx.envSize)
	for i, ev := range fx.raw {
		if n := len(ev.envelope); n < fixtureMinBytes || n > fixtureMaxBytes {
			t.Errorf("envelope %d is %d bytes", i, n)
		}
		if !strings.HasPrefix(ev.subject, "topic.results.") {
			t.Errorf("subject %q", ev.subject)
		}
	}
	for i, b := range fx.batches {
		var arr []json.RawMessage
		if err := json.Unmarshal(b, &arr); err != nil || len(arr) != 100 {
			t.Errorf("batch %d: %d events, %v", i, len(arr), err)
		}
	}
}

func TestWriteBenchConfig(t *testing.T) {
	for _, d := range []config.Durability{config.DurabilityAlways, config.DurabilityFast} {
		t.Run(string(d), func(t *testing.T) {
			path, err := writeBenchConfig(t.TempDir(), d)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := server.LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Durability != d {
				t.Errorf("durability %q, want %q", cfg.Durability, d)
			}
		})
	}
}
