// Package ops is stadion's guarantee system: SLOs with multi-window burn
// alerts, alerts and their receivers, log-template anomalies (and, beside
// them, health checks, scores and the daily inspection). It reads the
// other capabilities only through the process's Prometheus registry, its
// logs and small interfaces defined here; it never imports a capability.
package ops

import "time"

// Alert is one firing condition, located: the component and check that explain it.
type Alert struct {
	ID        string            `json:"id"`        // stable: same condition → same id (dedupe)
	Kind      string            `json:"kind"`      // "slo", "health", "anomaly", "budget"
	Severity  string            `json:"severity"`  // "page", "ticket", "info"
	Site      string            `json:"site"`      // "cloud" or a venue id
	Component string            `json:"component"` // e.g. "sink/results-db", "gate/venue-bn"
	Check     string            `json:"check"`     // the check or SLO that explains it
	Summary   string            `json:"summary"`
	Labels    map[string]string `json:"labels,omitempty"`
	StartsAt  time.Time         `json:"starts_at"`
}

// Alerter takes firing and resolved alerts; it deduplicates by ID.
type Alerter interface {
	Fire(a Alert)
	Resolve(id string)
}
