package rig

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets, as HdrHistogram does:
// exact below 64ns, then 64 buckets per power of two. A percentile read
// from it is within 1.6% of the true value, and it takes a fixed 30 KiB
// however many values it holds. Not safe for concurrent use: give each
// worker its own and merge them.
type Histogram struct {
	counts   [histBuckets]uint64
	N        uint64
	sum      time.Duration
	min, Max time.Duration
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1
	return (e+1)*histSub + int(v>>e) - histSub
}

// histMid is the middle of bucket i.
func histMid(i int) time.Duration {
	if i < histSub {
		return time.Duration(i)
	}
	e := i/histSub - 1
	low := uint64(i%histSub+histSub) << e
	return time.Duration(low + (uint64(1)<<e)/2)
}

func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))]++
	if h.N == 0 || d < h.min {
		h.min = d
	}
	h.Max = max(h.Max, d)
	h.N++
	h.sum += d
}

func (h *Histogram) Merge(o *Histogram) {
	if o.N == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.N == 0 || o.min < h.min {
		h.min = o.min
	}
	h.Max = max(h.Max, o.Max)
	h.N += o.N
	h.sum += o.sum
}

// Quantile returns the value below which a fraction q of the recorded
// values fall (0 when empty).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.N))), 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(max(histMid(i), h.min), h.Max)
		}
	}
	return h.Max
}

func (h *Histogram) mean() time.Duration {
	if h.N == 0 {
		return 0
	}
	return h.sum / time.Duration(h.N)
}

// Latency is a histogram's summary as reported, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func (h *Histogram) Summary() Latency {
	return Latency{P50: MS(h.Quantile(0.50)), P99: MS(h.Quantile(0.99)), Max: MS(h.Max), Mean: MS(h.mean())}
}

func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
