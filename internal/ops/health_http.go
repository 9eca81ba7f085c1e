package ops

import (
	"fmt"
	"net/http"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// Routes serves GET /v1/health to the admin and to clients with the
// metrics role: the report names sinks, subscriptions and venues, as
// /metrics does.
func (h *Health) Routes(mux *api.Mux, auth func(http.Handler) http.Handler, cfg *config.Config) {
	mux.Handle("GET /v1/health", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := mayRead(r, cfg); err != nil {
			return err
		}
		rep := h.Last()
		if r.URL.Query().Get("fresh") == "1" {
			rep = h.Fresh(r.Context())
		}
		api.WriteJSON(w, http.StatusOK, rep)
		return nil
	})))
}

// mayRead allows the admin and clients with the metrics role.
func mayRead(r *http.Request, cfg *config.Config) error {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Admin() || cfg.HasRole(p.Client, config.RoleMetrics) {
		return nil
	}
	return api.Forbidden(fmt.Sprintf("client %q may not read health or inspections: it needs the %q role", p.Client, config.RoleMetrics))
}
