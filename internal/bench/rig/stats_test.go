package rig

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values func(i int) time.Duration
		n      int
		q      float64
		want   time.Duration
	}{
		{"small exact", func(i int) time.Duration { return time.Duration(i) }, 50, 0.5, 25},
		{"uniform p50", func(i int) time.Duration { return time.Duration(i) * time.Microsecond }, 10000, 0.5, 5 * time.Millisecond},
		{"uniform p99", func(i int) time.Duration { return time.Duration(i) * time.Microsecond }, 10000, 0.99, 9900 * time.Microsecond},
		{"constant", func(int) time.Duration { return 3 * time.Second }, 100, 0.99, 3 * time.Second},
		{"hour", func(int) time.Duration { return time.Hour }, 3, 0.5, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := new(Histogram)
			for i := 1; i <= tt.n; i++ {
				h.Record(tt.values(i))
			}
			got := h.Quantile(tt.q)
			if rel := math.Abs(float64(got-tt.want)) / float64(tt.want); rel > 0.016 {
				t.Errorf("quantile(%v) = %v, want %v ±1.6%%", tt.q, got, tt.want)
			}
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b := new(Histogram), new(Histogram)
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(2 * time.Millisecond)
	a.Merge(b)
	if a.N != 3 || a.min != time.Millisecond || a.Max != 3*time.Millisecond || a.mean() != 2*time.Millisecond {
		t.Errorf("merged: n=%d min=%v max=%v mean=%v", a.N, a.min, a.Max, a.mean())
	}
	if got := new(Histogram).Quantile(0.99); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}

func TestHistIndexMonotonic(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v += 7 {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d after %d", v, i, prev)
		}
		prev = i
	}
	if i := histIndex(math.MaxUint64); i != histBuckets-1 {
		t.Errorf("histIndex(max) = %d, want %d", i, histBuckets-1)
	}
}
