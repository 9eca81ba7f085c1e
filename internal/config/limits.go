package config

import "time"

// LimitSpec is one runtime limit: what it matches, how much it lets
// through and what it does with the rest. It is the body of
// PUT /v1/limits/{name} and an entry of a plan's limits; internal/limits
// compiles and enforces it (and validates it: the checks need regular
// expressions and networks, and a plan's limits are checked when the
// server starts, with the field named).
type LimitSpec struct {
	Match LimitMatch `yaml:"match" json:"match"`
	// Rate is COUNT/PERIOD ("10/s", "1/5s", "2000/s", "100/min"); "0"
	// refuses every matching request (a block).
	Rate string `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Burst is the bucket's size (default: the rate's count, at least 1).
	Burst int `yaml:"burst,omitempty" json:"burst,omitempty"`
	// Concurrency caps the matching HTTP requests in progress at once
	// (long-lived streams count while they are open).
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// Per splits the limit into one bucket per distinct value: client,
	// key, user_agent, source, user (MQTT), venue; "" is one bucket for
	// every matching request.
	Per string `yaml:"per,omitempty" json:"per,omitempty"`
	// Action is enforce (the default: refuse) or shadow (only count).
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Scope is process (the default: every process has its own bucket)
	// or cluster (the rate is divided among the live processes).
	Scope string `yaml:"scope,omitempty" json:"scope,omitempty"`
	// Replaces names limits this one stands in for when both match (an
	// exemption: a larger limit for one client under a general one).
	Replaces []string `yaml:"replaces,omitempty" json:"replaces,omitempty"`
	// TTL, on input, sets Expires to now + TTL ("10m").
	TTL string `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// Expires removes the limit everywhere at that time.
	Expires     *time.Time `yaml:"expires,omitempty" json:"expires,omitempty"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
}

// LimitMatch says which requests a limit counts: every field that is set
// must match (an empty match matches everything).
type LimitMatch struct {
	Client    string `yaml:"client,omitempty" json:"client,omitempty"`
	KeyID     string `yaml:"key_id,omitempty" json:"key_id,omitempty"`
	UserAgent string `yaml:"user_agent,omitempty" json:"user_agent,omitempty"` // RE2
	Source    string `yaml:"source,omitempty" json:"source,omitempty"`         // CIDR or address
	// Route is "METHOD /path/*/with/wildcards" (HTTP), "/path" (any
	// method), "CONNECT" or "PUBLISH live/*/post" (MQTT).
	Route     string `yaml:"route,omitempty" json:"route,omitempty"`
	MQTTUser  string `yaml:"mqtt_user,omitempty" json:"mqtt_user,omitempty"`
	Anonymous bool   `yaml:"anonymous,omitempty" json:"anonymous,omitempty"` // MQTT without credentials
	Venue     string `yaml:"venue,omitempty" json:"venue,omitempty"`
}

// Plan is a named emergency preset: limits applied and reverted together
// (`stadion plan apply NAME`).
type Plan struct {
	Description string                `yaml:"description"`
	Limits      map[string]*LimitSpec `yaml:"limits"`
}

// validatePlans checks what needs no compiler: names and that each plan
// has limits. The limits themselves are compiled at start-up
// (internal/limits.CheckPlans), which names the field.
func (c *Config) validatePlans() []error {
	var errs []error
	for _, name := range sortedKeys(c.Plans) {
		p := c.Plans[name]
		switch {
		case !validName(name):
			errs = append(errs, fieldErr("plans."+name, "name must be lower-case letters, digits, '-' or '_'"))
		case p == nil || len(p.Limits) == 0:
			errs = append(errs, fieldErr("plans."+name+".limits", "a plan needs at least one limit"))
		}
		if p == nil {
			continue
		}
		for _, l := range sortedKeys(p.Limits) {
			if !validName(l) {
				errs = append(errs, fieldErr("plans."+name+".limits."+l, "name must be lower-case letters, digits, '-' or '_'"))
			}
			if p.Limits[l] == nil {
				errs = append(errs, fieldErr("plans."+name+".limits."+l, "is empty"))
			}
		}
	}
	return errs
}
