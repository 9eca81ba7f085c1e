package config

// Venue is one venue whose gates run on a `stadion edge`.
type Venue struct{}

// Gate holds the edge settings every venue inherits unless it overrides
// them.
type Gate struct{}

func (c *Config) setGateDefaults() {}

func (c *Config) validateGate() []error { return nil }
