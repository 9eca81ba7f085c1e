package deadletter

import "github.com/prometheus/client_golang/prometheus"

// metrics are one kind's dead-letter series, labelled kind="sub" or
// kind="sink". Each owner's own count is in the owners' series
// (stadion_subscription_dead_letters_total, stadion_sink_dead_letters_total)
// and in their health checks.
type metrics struct {
	stored, redriven, dropped, full prometheus.Counter
}

// newMetrics registers kind's series on reg; nil keeps them unregistered.
func newMetrics(reg prometheus.Registerer, k Kind) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stadion", Subsystem: "deadletter", Name: name, Help: help,
			ConstLabels: prometheus.Labels{"kind": string(k)}})
	}
	m := &metrics{
		stored:   counter("stored_total", "Dead letters stored (a deduplicated repeat is not counted)."),
		redriven: counter("redriven_total", "Dead letters redriven and removed."),
		dropped:  counter("dropped_total", "Dead letters deleted without redrive."),
		full:     counter("full_total", "Dead letters refused because the owner's stream was at its limit (the event stays where it was)."),
	}
	if reg != nil {
		reg.MustRegister(m.stored, m.redriven, m.dropped, m.full)
	}
	return m
}
