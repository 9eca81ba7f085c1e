package api

import (
	"net/http"
	"slices"
	"sync"
)

// Mux is the router of stadion's HTTP servers: an http.ServeMux that
// remembers every pattern registered on it, so that the route policy, the
// OpenAPI document and their tests can walk every route that exists.
type Mux struct {
	mux *http.ServeMux

	mu       sync.Mutex
	patterns []string
}

// NewMux returns an empty router.
func NewMux() *Mux { return &Mux{mux: http.NewServeMux()} }

// Handle registers h for pattern (http.ServeMux syntax, e.g.
// "GET /v1/topics/{topic}").
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, h)
	m.mu.Lock()
	m.patterns = append(m.patterns, pattern)
	m.mu.Unlock()
}

// HandleFunc registers f for pattern.
func (m *Mux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// ServeHTTP dispatches r to the handler whose pattern matches it best.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Patterns returns every registered pattern, sorted.
func (m *Mux) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.patterns)
	slices.Sort(out)
	return out
}
