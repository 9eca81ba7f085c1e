package ops

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stadion-dev/stadion/internal/api"
)

// BenchmarkGuard measures what the request policy adds to a request that
// is not a change (a publish, the hot path), beside the bare handler.
func BenchmarkGuard(b *testing.B) {
	p := NewPolicy(nil, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	for _, tt := range []struct {
		name string
		h    http.Handler
		who  api.Principal
	}{
		{"bare", bare, api.Principal{Client: "odf", KeyID: "1"}},
		{"client-key", p.Guard(bare), api.Principal{Client: "odf", KeyID: "1"}},
		{"operator-key", p.Guard(bare), api.Principal{Client: api.AdminClient, KeyID: "2", Role: api.RoleOperator}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			mux := api.NewMux()
			mux.Handle("POST /v1/topics/{topic}/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.h.ServeHTTP(w, r.WithContext(api.WithPrincipal(r.Context(), tt.who)))
			}))
			req := httptest.NewRequest("POST", "/v1/topics/results/events", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				mux.ServeHTTP(w, req)
			}
			if w.Code != http.StatusAccepted {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}
