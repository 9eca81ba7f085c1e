// Package inspect reviews Kubernetes workloads before an event: it reads
// manifests (files, directories, stdin, multi-document YAML, List objects),
// works out each container's runtime and computes its memory the way that
// runtime does (the JVM's heap ergonomics, Go's GOMEMLIMIT, Node's V8 heap
// defaults), checks the rest of a pre-event review (requests and limits,
// probes, replicas and PodDisruptionBudgets, zone spreading, image pinning,
// container security) and reports findings with a score and a grade.
//
// It is a capability package: it imports no other stadion package, and the
// command line (internal/cli) and its benchmark (internal/bench/inspect)
// import it.
package inspect
