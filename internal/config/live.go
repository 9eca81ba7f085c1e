package config

// Live configures live comments: MQTT rooms, moderation, history and the
// bridge of exchange topics to MQTT.
type Live struct{}

func (c *Config) setLiveDefaults() {}

func (c *Config) validateLive() []error { return nil }
