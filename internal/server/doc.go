// Package server builds, starts and stops stadion's services: the cloud
// server of `stadion up` and the venue edge of `stadion edge`. It wires the
// engine, the API keys, the core services (exchange, delivery, ops) and the
// capabilities into one HTTP server, and writes the endpoints and data-dir
// lock other processes read. Only internal/cli imports it; it imports every
// capability.
package server
