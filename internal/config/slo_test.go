package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestSLODefaults(t *testing.T) {
	c, err := Parse([]byte(`
topics: {results: {}}
slos:
  results-up:
    objective: 0.999
    indicator: {builtin: publish_availability, topic: results}
`), fstest.MapFS{}, ".")
	if err != nil {
		t.Fatal(err)
	}
	s := c.SLOs["results-up"]
	if s.Window.D() != 30*24*time.Hour || s.Site != "cloud" || s.MinEvents != 20 {
		t.Errorf("defaults %+v", s)
	}
	b := c.SLOPolicy.Burns
	if len(b) != 3 || b[0].Factor != 14.4 || b[0].Long.D() != time.Hour || b[0].Short.D() != 5*time.Minute ||
		b[1].Factor != 6 || b[2].Severity != "ticket" || b[2].Long.D() != 72*time.Hour {
		t.Errorf("burns %+v", b)
	}
}

func TestSLOAndAlertErrorsNameTheirField(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`slos: {x: {objective: 99.9, indicator: {builtin: live_delivery}}}`, "slos.x.objective: must be a share from 0.5 to 0.99999"},
		{`slos: {x: {objective: 0.99, window: 7d, indicator: {builtin: live_delivery}}}`, "slos.x.window: must be 28d or 30d"},
		{`slos: {x: {objective: 0.99, indicator: {builtin: live_fanout}}}`, "slos.x.indicator.threshold: required for live_fanout (e.g. 50ms)"},
		{`slos: {x: {objective: 0.99, indicator: {builtin: nope}}}`, `slos.x.indicator.builtin: unknown indicator "nope"`},
		{`slos: {x: {objective: 0.99, indicator: {builtin: publish_latency, topic: t}}}`, "slos.x.indicator.topic: must name a configured topic"},
		{`slos: {x: {objective: 0.99, indicator: {builtin: delivery_success}}}`, "slos.x.indicator: delivery_success needs exactly one of subscription or sink"},
		{`slos: {x: {objective: 0.99, indicator: {ratio: {good: {metric: a}}}}}`, "slos.x.indicator.ratio: needs good and exactly one of bad or total"},
		{`slos: {x: {objective: 0.99, indicator: {builtin: live_delivery, gauge: {metric: a}}}}`, "slos.x.indicator: set exactly one of builtin, ratio, latency or gauge"},
		{`slo_policy: {burns: [{severity: page, long: 5m, short: 1h, factor: 14.4}]}`, "slo_policy.burns[0]: long (5m0s) must be longer than short (1h0m0s)"},
		{`alerts: {receivers: {oncall: {url: "ftp://x"}}}`, "alerts.receivers.oncall.url: must be an http or https URL"},
		{`alerts: {receivers: {oncall: {url: "https://x", secret: nope}}}`, "alerts.receivers.oncall.secret: must be whsec_"},
		{`alerts: {receivers: {oncall: {url: "https://x"}}}`, "alerts.receivers.oncall.secret: required"},
		{`alerts: {topic: nope}`, `alerts.topic: must name a configured topic, not "nope"`},
		{`anomalies: {rate_factor: 0.5}`, "anomalies.rate_factor: must be above 1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), fstest.MapFS{}, ".")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
