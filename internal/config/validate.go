package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Validate checks the whole tree and reports every problem it finds, each
// naming its field (topics.medals.key: required for sync topics).
func (c *Config) Validate() error {
	var errs []error
	switch c.Durability {
	case DurabilityAlways, DurabilityFast:
	default:
		errs = append(errs, fieldErr("durability", "must be %q or %q, not %q", DurabilityAlways, DurabilityFast, c.Durability))
	}
	errs = append(errs, c.validateEngine()...)
	errs = append(errs, c.validatePlans()...)
	if c.Exchange.MaxBody < 1024 {
		errs = append(errs, fieldErr("exchange.max_body", "must be at least 1KiB"))
	}
	if c.Exchange.DedupeWindow < Duration(1e9) {
		errs = append(errs, fieldErr("exchange.dedupe_window", "must be at least 1s"))
	}
	if n := c.Exchange.NATSConsumersPerClient; n < 1 || n > 1000 {
		errs = append(errs, fieldErr("exchange.nats_consumers_per_client", "must be 1-1000, not %d", n))
	}
	if c.Exchange.StreamsPerClient < 1 || c.Exchange.StreamsPerClient > 100000 {
		errs = append(errs, fieldErr("exchange.streams_per_client", "must be 1-100000, not %d", c.Exchange.StreamsPerClient))
	}
	if c.Exchange.StreamStall < Duration(100*time.Millisecond) || c.Exchange.StreamStall > Duration(10*time.Minute) {
		errs = append(errs, fieldErr("exchange.stream_stall", "must be from 100ms to 10m"))
	}
	for _, name := range sortedKeys(c.Clients) {
		if !validName(name) {
			errs = append(errs, fieldErr("clients."+name, "name must be lower-case letters, digits, '-' or '_'"))
		}
		if name == AdminClient {
			errs = append(errs, fieldErr("clients.admin", "the name admin is reserved for the built-in administrator"))
		}
		if name == "sink" || strings.HasPrefix(name, "sink-") {
			// A client's plain-NATS consumers are named <client>-…; sinks'
			// are sink-<sink>.
			errs = append(errs, fieldErr("clients."+name, "names sink and sink-… are reserved (sinks' consumers are named sink-<sink>)"))
		}
	}
	for _, name := range sortedKeys(c.Topics) {
		errs = append(errs, c.validateTopic(name, c.Topics[name])...)
	}
	errs = append(errs, c.validateDelivery()...)
	errs = append(errs, c.validateWebhooks()...)
	errs = append(errs, c.validateLive()...)
	errs = append(errs, c.validateGate()...)
	errs = append(errs, c.validateCapture()...)
	errs = append(errs, c.validateSLOs()...)
	errs = append(errs, c.validateHealth()...)
	return errors.Join(errs...)
}

func (c *Config) validateTopic(name string, t *Topic) []error {
	field := "topics." + name
	var errs []error
	add := func(sub, format string, args ...any) {
		errs = append(errs, fieldErr(field+sub, format, args...))
	}
	if !validName(name) {
		add("", "name must be lower-case letters, digits, '-' or '_' (at most 64)")
	}
	switch t.Kind {
	case KindRealtime, KindSync:
	default:
		add(".kind", "must be realtime or sync, not %q", t.Kind)
	}
	if t.Key == "" && t.Kind == KindSync {
		add(".key", "required for sync topics")
	}
	if t.Key != "" && !strings.HasPrefix(t.Key, "/") {
		add(".key", "must be a JSON pointer starting with '/', not %q", t.Key)
	}
	if t.Schema != "" {
		if _, err := c.ReadFile(t.Schema); err != nil {
			add(".schema", "cannot read %s: %v", t.Schema, unwrapPathErr(err))
		}
	}
	if t.Retention < 0 {
		add(".retention", "must not be negative")
	}
	for i, p := range t.Publishers {
		if _, ok := c.Clients[p]; !ok && p != AdminClient {
			add(fmt.Sprintf(".publishers[%d]", i), "unknown client %q (declare it under clients)", p)
		}
	}
	for i, s := range t.Subscribers {
		if _, ok := c.Clients[s]; !ok && s != AdminClient {
			add(fmt.Sprintf(".subscribers[%d]", i), "unknown client %q (declare it under clients)", s)
		}
	}
	return errs
}

func unwrapPathErr(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TopicNames returns the configured topic names, sorted.
func (c *Config) TopicNames() []string { return sortedKeys(c.Topics) }
