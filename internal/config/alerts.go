package config

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Alerts says where alerts (SLO burns, health drops, anomalies) go.
type Alerts struct {
	// Topic, when set, names an exchange topic every firing and resolved
	// alert is also published to (declare it under topics).
	Topic string `yaml:"topic"`
	// ExternalURL is the externalURL of the Alertmanager-shaped payload
	// (this stadion's address as operators reach it).
	ExternalURL string `yaml:"external_url"`
	// MaxQueued caps the notifications waiting per receiver in the
	// engine (default 1000); beyond it the oldest is discarded.
	MaxQueued int                  `yaml:"max_queued"`
	Receivers map[string]*Receiver `yaml:"receivers"`
}

// Receiver is a signed webhook (Standard Webhooks) whose body an
// Alertmanager webhook receiver also accepts (payload version 4).
type Receiver struct {
	URL string `yaml:"url"`
	// Secret signs the requests: whsec_ and the base64 of 24-64 bytes.
	Secret  string   `yaml:"secret"`
	Timeout Duration `yaml:"timeout"` // per attempt, default 10s
	// RetryFor is how long after it was queued a failing notification is
	// still retried, with exponential backoff from 1s to 1m (default 1h).
	RetryFor Duration `yaml:"retry_for"`
	// Severities and Kinds filter what the receiver gets (default all).
	Severities []string `yaml:"severities"`
	Kinds      []string `yaml:"kinds"`
}

// Anomalies tunes the log-template miner behind GET /v1/anomalies.
type Anomalies struct {
	// LinesPerMinute is the budget of log lines mined per minute; the rest
	// are counted, not mined (default 60000).
	LinesPerMinute int `yaml:"lines_per_minute"`
	// MaxTemplates caps the templates kept (default 1000).
	MaxTemplates int `yaml:"max_templates"`
	// MaxTokens caps the tokens of one line (default 64).
	MaxTokens int `yaml:"max_tokens"`
	// Similarity is the share of tokens a line must share with a
	// template to join it (default 0.5).
	Similarity float64 `yaml:"similarity"`
	// RateFactor: a template whose count in a minute reaches this many
	// times its mean over the last hour (and at least 20) is an anomaly
	// (default 5).
	RateFactor float64 `yaml:"rate_factor"`
	// QuietAfter resolves an anomaly once its template is this quiet
	// (default 15m).
	QuietAfter Duration `yaml:"quiet_after"`
}

// Alert kinds and severities.
var (
	AlertKinds      = []string{"slo", "health", "anomaly", "budget"}
	AlertSeverities = []string{"page", "ticket", "info"}
)

func (c *Config) setAlertDefaults() {
	a := &c.Alerts
	if a.MaxQueued == 0 {
		a.MaxQueued = 1000
	}
	for name, r := range a.Receivers {
		if r == nil {
			r = &Receiver{}
			a.Receivers[name] = r
		}
		if r.Timeout == 0 {
			r.Timeout = Duration(10 * time.Second)
		}
		if r.RetryFor == 0 {
			r.RetryFor = Duration(time.Hour)
		}
	}
	n := &c.Anomalies
	if n.LinesPerMinute == 0 {
		n.LinesPerMinute = 60000
	}
	if n.MaxTemplates == 0 {
		n.MaxTemplates = 1000
	}
	if n.MaxTokens == 0 {
		n.MaxTokens = 64
	}
	if n.Similarity == 0 {
		n.Similarity = 0.5
	}
	if n.RateFactor == 0 {
		n.RateFactor = 5
	}
	if n.QuietAfter == 0 {
		n.QuietAfter = Duration(15 * time.Minute)
	}
}

func (c *Config) validateAlerts() []error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, fieldErr(field, format, args...)) }
	a := c.Alerts
	if a.Topic != "" && c.Topics[a.Topic] == nil {
		add("alerts.topic", "must name a configured topic, not %q (declare it under topics)", a.Topic)
	}
	if a.ExternalURL != "" && !validReceiverURL(a.ExternalURL) {
		add("alerts.external_url", "must be an http or https URL")
	}
	if a.MaxQueued < 1 || a.MaxQueued > 100000 {
		add("alerts.max_queued", "must be 1-100000, not %d", a.MaxQueued)
	}
	for _, name := range sortedKeys(a.Receivers) {
		r, f := a.Receivers[name], "alerts.receivers."+name
		if !validName(name) {
			add(f, "name must be lower-case letters, digits, '-' or '_'")
		}
		if !validReceiverURL(r.URL) {
			add(f+".url", "must be an http or https URL without credentials, not %q", r.URL)
		}
		if r.Secret == "" {
			add(f+".secret", "required: whsec_ and the base64 of 24-64 random bytes (receivers verify the signature)")
		} else if _, err := WebhookKey(r.Secret); err != nil {
			add(f+".secret", "must be whsec_ and the base64 of 24-64 random bytes")
		}
		if r.Timeout.D() < 100*time.Millisecond || r.Timeout.D() > time.Minute {
			add(f+".timeout", "must be from 100ms to 1m")
		}
		if r.RetryFor.D() < time.Second || r.RetryFor.D() > 7*24*time.Hour {
			add(f+".retry_for", "must be from 1s to 7d")
		}
		for i, s := range r.Severities {
			if !slices.Contains(AlertSeverities, s) {
				add(fmt.Sprintf("%s.severities[%d]", f, i), "must be one of %s, not %q", strings.Join(AlertSeverities, ", "), s)
			}
		}
		for i, k := range r.Kinds {
			if !slices.Contains(AlertKinds, k) {
				add(fmt.Sprintf("%s.kinds[%d]", f, i), "must be one of %s, not %q", strings.Join(AlertKinds, ", "), k)
			}
		}
	}
	n := c.Anomalies
	if n.LinesPerMinute < 1 || n.LinesPerMinute > 10_000_000 {
		add("anomalies.lines_per_minute", "must be 1-10000000")
	}
	if n.MaxTemplates < 1 || n.MaxTemplates > 100000 {
		add("anomalies.max_templates", "must be 1-100000")
	}
	if n.MaxTokens < 4 || n.MaxTokens > 1024 {
		add("anomalies.max_tokens", "must be 4-1024")
	}
	if n.Similarity <= 0 || n.Similarity > 1 {
		add("anomalies.similarity", "must be in (0, 1]")
	}
	if n.RateFactor <= 1 {
		add("anomalies.rate_factor", "must be above 1")
	}
	if n.QuietAfter.D() < time.Second {
		add("anomalies.quiet_after", "must be at least 1s")
	}
	return errs
}

// WebhookKey decodes a Standard Webhooks secret (whsec_ and the base64 of
// 24-64 bytes) into its HMAC key.
func WebhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, fmt.Errorf("no whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("not the base64 of 24-64 bytes")
	}
	return key, nil
}

// Accepts reports whether the receiver wants alerts of this kind and
// severity.
func (r *Receiver) Accepts(kind, severity string) bool {
	return (len(r.Kinds) == 0 || slices.Contains(r.Kinds, kind)) &&
		(len(r.Severities) == 0 || slices.Contains(r.Severities, severity))
}
