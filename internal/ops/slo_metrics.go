package ops

import "github.com/prometheus/client_golang/prometheus"

type sloMetrics struct {
	budget      *prometheus.GaugeVec
	burn        *prometheus.GaugeVec
	writeErrors prometheus.Counter
	dropped     *prometheus.CounterVec
}

func newSLOMetrics(reg prometheus.Registerer) *sloMetrics {
	m := &sloMetrics{
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stadion_slo_budget_remaining", Help: "Share of the SLO's error budget left over its window (1 untouched, 0 spent, negative overspent).",
		}, []string{"slo"}),
		burn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stadion_slo_burn_rate", Help: "The SLO's burn rate over a window of its burn tiers.",
		}, []string{"slo", "window"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stadion_slo_count_write_errors_total", Help: "Failed writes of SLO counts to the engine (kept and retried next round).",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stadion_slo_samples_dropped_total", Help: "SLO samples dropped because 256 buckets were already waiting to be stored.",
		}, []string{"slo"}),
	}
	if reg != nil {
		reg.MustRegister(m.budget, m.burn, m.writeErrors, m.dropped)
	}
	return m
}
