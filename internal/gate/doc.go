// Package gate is the venue-edge capability: signed tickets issued in the
// cloud and checked offline at each venue's `stadion edge`.
//
// The cloud side (Cloud) keeps the Ed25519 signing keys, the tickets and
// the venues; it publishes each venue's control stream (public keys,
// configuration, revocations) and sources every edge's scan stream across
// the leafnode link, exactly once, into its venue view and the
// `admissions` exchange topic. The edge side (Edge) decides every scan from
// local state only, admits a ticket at most once per venue through
// compare-and-set appends to its own scan log, and answers diagnostics over
// its outbound link.
//
// gate is imported by internal/cli only; it imports engine, exchange, api
// and config.
package gate
