package cli

import (
	"fmt"
	"os"
	"time"
)

// diskProbe is how fast the disk makes small appends durable: the ceiling
// of durability "always", where the engine fsyncs every message on its own.
type diskProbe struct {
	Dir     string  `json:"dir"`
	Appends int     `json:"appends"`
	PerSec  float64 `json:"appends_per_sec"`
	Latency latency `json:"latency"`
}

// probeFsync appends size-byte records to a new file under dir, each
// followed by fsync, up to n times or for at most limit.
func probeFsync(dir string, size, n int, limit time.Duration) (*diskProbe, error) {
	f, err := os.CreateTemp(dir, "stadion-bench-fsync-")
	if err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, size)
	var h histogram
	start := time.Now()
	for h.n < uint64(n) && time.Since(start) < limit {
		t := time.Now()
		if _, err := f.Write(rec); err != nil {
			return nil, fmt.Errorf("disk probe: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("disk probe: %w", err)
		}
		h.record(time.Since(t))
	}
	return &diskProbe{Dir: dir, Appends: int(h.n), PerSec: float64(h.n) / time.Since(start).Seconds(), Latency: h.summary()}, nil
}
