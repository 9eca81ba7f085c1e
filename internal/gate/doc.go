// Package gate is the venue-edge capability: signed tickets issued in the
// cloud and checked offline at each venue's `stadion edge`.
//
// The cloud side (Cloud) keeps the Ed25519 signing keys, the tickets and
// the venues; it publishes each venue's control stream (public keys,
// configuration, revocations), which edges catch up on, and stores the
// scan batches edges forward over the leafnode link into its venue view
// and the `admissions` exchange topic. An edge is an outside party: the
// link carries only requests the cloud answers in the venue's own
// namespace, and the cloud checks everything an edge sends against its
// venue before storing it (proto.go, refuse.go). The edge side (Edge)
// decides every scan from local state only, admits a ticket at most once
// per venue through compare-and-set appends to its own scan log, and
// answers diagnostics over its outbound link.
//
// gate is wired by internal/server, and its ticket types are read by the
// API client, the command line and the gate benchmark; it imports engine,
// exchange, api and config.
package gate
