// Package limits is stadion's runtime limits and emergency plans: limits
// are data (a KV bucket every process follows), matched on who calls
// (client, key, User-Agent, source network, venue, MQTT user) and what
// they call (an HTTP route or an MQTT CONNECT or PUBLISH), enforced as
// token buckets or concurrency caps, or only counted (shadow). Plans are
// named presets of limits from stadion.yaml, applied and reverted in one
// step, with a dry run estimated from a bounded sample of recent traffic.
//
// It is a capability: it imports config, api, loop and the NATS client,
// never another capability. The server wires its HTTP middleware in front
// of the whole API, and live's MQTT hooks reach it through an interface
// that live defines.
package limits
