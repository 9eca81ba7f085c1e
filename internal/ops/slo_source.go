package ops

import (
	"fmt"

	dto "github.com/prometheus/client_model/go"

	"github.com/stadion-dev/stadion/internal/config"
)

// source reads an SLO's events from this process's Prometheus registry.
// Counter sources return cumulative counts (the caller takes deltas);
// sample sources return one evaluation's counts (a gauge sampled: one
// event, good or not).
type sloSource interface {
	read(fams map[string]*dto.MetricFamily) Counts
	cumulative() bool
}

type metricFamilies = map[string]*dto.MetricFamily

// metricSelector sums the series of one metric whose labels include labels.
type metricSelector struct {
	metric string
	labels map[string]string
}

func metricSel(metric string, kv ...string) metricSelector {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return metricSelector{metric: metric, labels: l}
}

func selectorFrom(m *config.MetricSelector) metricSelector {
	if m == nil {
		return metricSelector{}
	}
	return metricSelector{metric: m.Metric, labels: m.Labels}
}

func (s metricSelector) matches(m *dto.Metric) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := s.labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(s.labels)
}

// sum adds the matching series' values (counter, gauge or untyped).
func (s metricSelector) sum(fams metricFamilies) float64 {
	f := fams[s.metric]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		if !s.matches(m) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// ratioSource counts good and bad (or total) events from counters.
type ratioSource struct {
	good, bad, total metricSelector
}

func (r ratioSource) cumulative() bool { return true }
func (r ratioSource) read(fams metricFamilies) Counts {
	g := r.good.sum(fams)
	if r.total.metric != "" {
		return Counts{Good: g, Total: r.total.sum(fams)}
	}
	return Counts{Good: g, Total: g + r.bad.sum(fams)}
}

// latencySource counts a histogram's observations at or under threshold
// (seconds) as good: the cumulative count of the highest bucket bound
// not above it.
type latencySource struct {
	sel       metricSelector
	threshold float64
}

func (l latencySource) cumulative() bool { return true }
func (l latencySource) read(fams metricFamilies) Counts {
	f := fams[l.sel.metric]
	var c Counts
	if f == nil {
		return c
	}
	for _, m := range f.GetMetric() {
		h := m.GetHistogram()
		if h == nil || !l.sel.matches(m) {
			continue
		}
		c.Total += float64(h.GetSampleCount())
		good := 0.0
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() <= l.threshold*(1+1e-9) {
				good = float64(b.GetCumulativeCount())
			}
		}
		c.Good += good
	}
	return c
}

// gaugeSource samples a gauge: one event per evaluation, good when the
// summed value is at most max (OpenSLO's time slices).
type gaugeSource struct {
	sel metricSelector
	max float64
}

func (g gaugeSource) cumulative() bool { return false }
func (g gaugeSource) read(fams metricFamilies) Counts {
	if fams[g.sel.metric] == nil {
		return Counts{}
	}
	if g.sel.sum(fams) <= g.max {
		return Counts{Good: 1, Total: 1}
	}
	return Counts{Total: 1}
}

// newSource builds an SLO's source and its default component.
func newSource(in config.Indicator) (sloSource, string, error) {
	switch {
	case in.Ratio != nil:
		return ratioSource{good: selectorFrom(in.Ratio.Good), bad: selectorFrom(in.Ratio.Bad), total: selectorFrom(in.Ratio.Total)}, "metric/" + in.Ratio.Good.Metric, nil
	case in.Latency != nil:
		return latencySource{sel: selectorFrom(&in.Latency.MetricSelector), threshold: in.Latency.Threshold.D().Seconds()}, "metric/" + in.Latency.Metric, nil
	case in.Gauge != nil:
		return gaugeSource{sel: selectorFrom(&in.Gauge.MetricSelector), max: in.Gauge.Max}, "metric/" + in.Gauge.Metric, nil
	}
	th := in.Threshold.D().Seconds()
	switch in.Builtin {
	case "publish_availability":
		// Only the engine failing a valid publish spends the budget; a
		// client's malformed or forbidden event is its own error.
		return ratioSource{
			good: metricSel("stadion_exchange_events_published_total", "topic", in.Topic),
			bad:  metricSel("stadion_exchange_publish_rejected_total", "topic", in.Topic, "reason", "engine"),
		}, "exchange/" + in.Topic, nil
	case "publish_latency":
		return latencySource{metricSel("stadion_exchange_publish_duration_seconds", "topic", in.Topic), th}, "exchange/" + in.Topic, nil
	case "delivery_success":
		if in.Sink != "" {
			return ratioSource{good: metricSel("stadion_sink_batches_total", "sink", in.Sink), bad: metricSel("stadion_sink_retries_total", "sink", in.Sink)}, "sink/" + in.Sink, nil
		}
		return ratioSource{
			good: metricSel("stadion_subscription_pushes_total", "subscription", in.Subscription, "outcome", "ok"),
			bad:  metricSel("stadion_subscription_pushes_total", "subscription", in.Subscription, "outcome", "failed"),
		}, "subscription/" + in.Subscription, nil
	case "delivery_freshness":
		if in.Sink != "" {
			return gaugeSource{metricSel("stadion_sink_lag", "sink", in.Sink), float64(in.MaxLag)}, "sink/" + in.Sink, nil
		}
		return gaugeSource{metricSel("stadion_subscription_lag", "subscription", in.Subscription), float64(in.MaxLag)}, "subscription/" + in.Subscription, nil
	case "gate_decision_latency":
		// The edges' latencies, counted in the cloud as their scans arrive.
		if in.Venue != "" {
			return latencySource{metricSel("stadion_gate_decision_seconds", "venue", in.Venue), th}, "gate/" + in.Venue, nil
		}
		return latencySource{metricSel("stadion_gate_decision_seconds"), th}, "gate/venues", nil
	case "live_fanout":
		return latencySource{metricSel("stadion_live_fanout_delay_seconds"), th}, "live/fanout", nil
	case "live_delivery":
		return ratioSource{good: metricSel("stadion_live_mqtt_delivered_total"), bad: metricSel("stadion_live_mqtt_dropped_total")}, "live/fanout", nil
	case "capture_tick_to_frame":
		return latencySource{metricSel("stadion_capture_tick_to_frame_seconds"), th}, "capture/ticks", nil
	}
	return nil, "", fmt.Errorf("unknown indicator %q", in.Builtin)
}
