package rig

import (
	"fmt"
	"os"
	"time"
)

// DiskProbe is how fast the disk makes small appends durable: the ceiling
// of durability "always", where the engine fsyncs every message on its own.
type DiskProbe struct {
	Dir     string  `json:"dir"`
	Appends int     `json:"appends"`
	PerSec  float64 `json:"appends_per_sec"`
	Latency Latency `json:"latency"`
}

// ProbeFsync appends size-byte records to a new file under dir, each
// followed by fsync, up to n times or for at most limit.
func ProbeFsync(dir string, size, n int, limit time.Duration) (*DiskProbe, error) {
	f, err := os.CreateTemp(dir, "stadion-bench-fsync-")
	if err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, size)
	var h Histogram
	start := time.Now()
	for h.N < uint64(n) && time.Since(start) < limit {
		t := time.Now()
		if _, err := f.Write(rec); err != nil {
			return nil, fmt.Errorf("disk probe: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("disk probe: %w", err)
		}
		h.Record(time.Since(t))
	}
	return &DiskProbe{Dir: dir, Appends: int(h.N), PerSec: float64(h.N) / time.Since(start).Seconds(), Latency: h.Summary()}, nil
}
