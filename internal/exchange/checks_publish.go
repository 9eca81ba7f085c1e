package exchange

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stadion-dev/stadion/internal/ops"
)

// publishTotals are this process's publish counters at one moment.
type publishTotals struct {
	mu        sync.Mutex
	at        time.Time
	published float64
	rejected  map[string]float64 // by reason
	buckets   []float64          // cumulative latency bucket counts, summed over topics
	bounds    []float64
}

// read collects the counters now.
func (m *metrics) read() (published float64, rejected map[string]float64, bounds, buckets []float64) {
	rejected = map[string]float64{}
	each(m.published, func(d *dto.Metric) { published += d.GetCounter().GetValue() })
	each(m.rejected, func(d *dto.Metric) {
		for _, l := range d.GetLabel() {
			if l.GetName() == "reason" {
				rejected[l.GetValue()] += d.GetCounter().GetValue()
			}
		}
	})
	each(m.latency, func(d *dto.Metric) {
		h := d.GetHistogram()
		bs := h.GetBucket()
		if buckets == nil {
			// One more bucket for the requests past the last bound,
			// counted as twice that bound.
			buckets, bounds = make([]float64, len(bs)+1), make([]float64, len(bs)+1)
			if len(bs) > 0 {
				bounds[len(bs)] = 2 * bs[len(bs)-1].GetUpperBound()
			}
		}
		if len(bs)+1 != len(buckets) {
			return
		}
		for i, b := range bs {
			buckets[i] += float64(b.GetCumulativeCount())
			bounds[i] = b.GetUpperBound()
		}
		buckets[len(bs)] += float64(h.GetSampleCount())
	})
	return published, rejected, bounds, buckets
}

func each(c prometheus.Collector, f func(*dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			f(&d)
		}
	}
}

// publishChecks compare this process's publish counters with the last
// evaluation: the share of publishes the engine failed, the share rejected
// for the caller's reasons (by reason in the detail), and the p99 latency
// from the histogram's buckets. Nothing is reported for an interval with
// no publishes.
func (x *Exchange) publishChecks() []ops.Check {
	m := x.m
	pub, rej, bounds, buckets := m.read()
	p := &m.prev
	p.mu.Lock()
	defer p.mu.Unlock()
	first := p.at.IsZero()
	dPub := pub - p.published
	dRej := map[string]float64{}
	var dAll float64
	for r, v := range rej {
		dRej[r] = v - p.rejected[r]
		dAll += dRej[r]
	}
	dBuckets := make([]float64, len(buckets))
	for i := range buckets {
		dBuckets[i] = buckets[i]
		if i < len(p.buckets) {
			dBuckets[i] -= p.buckets[i]
		}
	}
	p.at, p.published, p.rejected, p.buckets, p.bounds = time.Now(), pub, rej, buckets, bounds
	total := dPub + dAll
	if first || total <= 0 || dPub < 0 {
		return nil
	}
	var reasons []string
	for _, r := range slices.Sorted(mapsKeys(dRej)) {
		if dRej[r] > 0 && r != reasonEngine {
			reasons = append(reasons, fmt.Sprintf("%s %.0f", r, dRej[r]))
		}
	}
	out := []ops.Check{
		{Site: ops.SiteCloud, Component: "exchange", Name: "publish_errors", Unit: "ratio", Value: dRej[reasonEngine] / total, Warn: 0.001, Crit: 0.01, Weight: 3,
			Detail: fmt.Sprintf("%.0f of %.0f publishes since the last evaluation failed in the engine", dRej[reasonEngine], total)},
		{Site: ops.SiteCloud, Component: "exchange", Name: "rejected", Unit: "ratio", Value: (dAll - dRej[reasonEngine]) / total, Warn: 0.05, Crit: 0.5,
			Detail: "publishes refused for the caller's reasons since the last evaluation: " + orNone(strings.Join(reasons, ", "))},
	}
	if p99, ok := quantile(bounds, dBuckets, 0.99); ok {
		out = append(out, ops.Check{Site: ops.SiteCloud, Component: "exchange", Name: "publish_p99", Unit: "s", Value: p99, Warn: 0.1, Crit: 1, Weight: 2,
			Detail: "99th percentile from request to the engine's acknowledgement since the last evaluation (bucket upper bound)"})
	}
	return out
}

func mapsKeys(m map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// quantile is the upper bound of the bucket holding the q-th quantile of
// cumulative bucket counts (the last one is the total).
func quantile(bounds, cum []float64, q float64) (float64, bool) {
	if len(cum) == 0 || cum[len(cum)-1] <= 0 {
		return 0, false
	}
	n := cum[len(cum)-1]
	for i, c := range cum {
		if c >= q*n {
			return bounds[i], true
		}
	}
	return bounds[len(bounds)-1], true
}
