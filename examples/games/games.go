// Package games is the bundled example configuration: a Winter Games data
// exchange modelled on Beijing 2022, with schedule, results, medals and
// weather topics fed by the Olympic Data Feed (ODF), an accreditation
// (personnel) sync topic fed by the registration system (OMS), arrivals
// from the airports (ADS) and ride orders (RHP), and sinks that keep the
// arrivals and rides as SQLite tables.
//
// `stadion up` runs it when no --config is given, and internal/demo generates
// data that validates against its schemas. Any package may import it; it
// imports none of stadion's own packages.
package games

import "embed"

// FS holds stadion.yaml and the JSON Schemas it names (schemas/*.json), so
// the binary can run the example with no files on disk, and one valid event
// per topic (testdata/*.json), which `stadion init` writes as examples/.
// Paths in stadion.yaml are relative to the root of FS.
//
//go:embed stadion.yaml schemas testdata
var FS embed.FS
