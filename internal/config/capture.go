package config

// Capture configures frame capture from live video.
type Capture struct{}

func (c *Config) setCaptureDefaults() {}

func (c *Config) validateCapture() []error { return nil }
