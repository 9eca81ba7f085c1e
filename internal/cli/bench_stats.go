package cli

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets, as HdrHistogram does:
// exact below 64ns, then 64 buckets per power of two. A percentile read
// from it is within 1.6% of the true value, and it takes a fixed 30 KiB
// however many values it holds. Not safe for concurrent use: give each
// worker its own and merge them.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      time.Duration
	min, max time.Duration
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

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
	h.sum += d
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value below which a fraction q of the recorded
// values fall (0 when empty).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(max(histMid(i), h.min), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// latency is a histogram's summary as reported, in milliseconds.
type latency struct {
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func (h *histogram) summary() latency {
	return latency{P50: ms(h.quantile(0.50)), P99: ms(h.quantile(0.99)), Max: ms(h.max), Mean: ms(h.mean())}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
