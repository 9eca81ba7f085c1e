package config

import (
	"fmt"
	"slices"
	"time"
)

// Re-entry rules of a venue.
const (
	// ReentryDeny admits a ticket once; an exit ends its use.
	ReentryDeny = "deny"
	// ReentryAllowAfterExit admits a ticket again after it was scanned out.
	ReentryAllowAfterExit = "allow-after-exit"
)

// EdgeSettings are the settings a venue edge runs with. `gate:` holds the
// defaults; a venue overrides any of them (zero values inherit).
type EdgeSettings struct {
	// Reentry is deny or allow-after-exit.
	Reentry string `yaml:"reentry" json:"reentry"`
	// ClockSkew widens every session window at both ends, for gate clocks
	// and doors opening early.
	ClockSkew Duration `yaml:"clock_skew" json:"clock_skew"`
	// MaxBatch caps how many scans share one durable write at the edge.
	MaxBatch int `yaml:"max_batch" json:"max_batch"`
	// Heartbeat is how often the edge reports to the cloud while linked.
	Heartbeat Duration `yaml:"heartbeat" json:"heartbeat"`
}

// Venue is one venue whose gates run on a `stadion edge`.
type Venue struct {
	Description string `yaml:"description"`
	// Gates are the entrances whose devices may scan; empty allows any.
	Gates []string `yaml:"gates"`
	// EdgeSettings override gate: for this venue's edge pool.
	EdgeSettings `yaml:",inline"`

	// Effective is gate: with this venue's overrides applied. Set by
	// defaults.
	Effective EdgeSettings `yaml:"-"`
}

// Gate holds the edge settings every venue inherits unless it overrides
// them.
type Gate struct {
	EdgeSettings `yaml:",inline"`
}

func (c *Config) setGateDefaults() {
	g := &c.Gate.EdgeSettings
	if g.Reentry == "" {
		g.Reentry = ReentryDeny
	}
	if g.ClockSkew == 0 {
		g.ClockSkew = Duration(2 * time.Minute)
	}
	if g.MaxBatch == 0 {
		g.MaxBatch = 256
	}
	if g.Heartbeat == 0 {
		g.Heartbeat = Duration(2 * time.Second)
	}
	for _, v := range c.Venues {
		if v != nil {
			v.Effective = g.Merge(v.EdgeSettings)
		}
	}
}

// Merge returns s with every non-zero field of o applied.
func (s EdgeSettings) Merge(o EdgeSettings) EdgeSettings {
	if o.Reentry != "" {
		s.Reentry = o.Reentry
	}
	if o.ClockSkew != 0 {
		s.ClockSkew = o.ClockSkew
	}
	if o.MaxBatch != 0 {
		s.MaxBatch = o.MaxBatch
	}
	if o.Heartbeat != 0 {
		s.Heartbeat = o.Heartbeat
	}
	return s
}

func (c *Config) validateGate() []error {
	errs := c.Gate.validate("gate")
	for _, name := range sortedKeys(c.Venues) {
		errs = append(errs, c.validateVenue(name, c.Venues[name])...)
	}
	return errs
}

func (c *Config) validateVenue(name string, v *Venue) []error {
	field := "venues." + name
	if !validName(name) || len(name) > 32 {
		return []error{fieldErr(field, "venue names are 1-32 lower-case letters, digits, '-' or '_'")}
	}
	if v == nil {
		return []error{fieldErr(field, "empty venue; give at least gates: [...]")}
	}
	errs := v.validate(field)
	for i, g := range v.Gates {
		if !validName(g) {
			errs = append(errs, fieldErr(fmt.Sprintf("%s.gates[%d]", field, i), "gate %q: use lower-case letters, digits, '-' or '_'", g))
		} else if slices.Index(v.Gates, g) != i {
			errs = append(errs, fieldErr(fmt.Sprintf("%s.gates[%d]", field, i), "gate %q is listed twice", g))
		}
	}
	return errs
}

func (s EdgeSettings) validate(field string) []error {
	var errs []error
	switch s.Reentry {
	case "", ReentryDeny, ReentryAllowAfterExit:
	default:
		errs = append(errs, fieldErr(field+".reentry", "%q: want deny or allow-after-exit", s.Reentry))
	}
	if s.ClockSkew < 0 || s.ClockSkew.D() > 24*time.Hour {
		errs = append(errs, fieldErr(field+".clock_skew", "must be between 0 and 24h"))
	}
	if s.MaxBatch < 0 || s.MaxBatch > 4096 {
		errs = append(errs, fieldErr(field+".max_batch", "must be between 1 and 4096"))
	}
	if s.Heartbeat < 0 || (s.Heartbeat != 0 && s.Heartbeat.D() < 100*time.Millisecond) {
		errs = append(errs, fieldErr(field+".heartbeat", "must be at least 100ms"))
	}
	return errs
}

// VenueNames lists the configured venues, sorted.
func (c *Config) VenueNames() []string { return sortedKeys(c.Venues) }
