package ops

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
)

var reportID = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)

// Routes serves the inspections: POST runs one (admin); GET lists and
// reads them (admin or the metrics role).
func (in *Inspector) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	mux.Handle("POST /v1/inspections", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := api.RequireAdmin(r); err != nil {
			return err
		}
		rep, err := in.Run(r.Context())
		if err != nil {
			return api.Unavailable("inspection: " + err.Error())
		}
		api.WriteJSON(w, http.StatusCreated, rep)
		return nil
	})))
	mux.Handle("GET /v1/inspections", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := mayRead(r, in.cfg); err != nil {
			return err
		}
		ids, err := in.IDs(r.Context())
		if err != nil {
			return api.Unavailable("inspection: " + err.Error())
		}
		if ids == nil {
			ids = []string{}
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"inspections": ids})
		return nil
	})))
	mux.Handle("GET /v1/inspections/{id}", auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := mayRead(r, in.cfg); err != nil {
			return err
		}
		id := r.PathValue("id")
		if !reportID.MatchString(id) {
			return api.BadRequest(fmt.Sprintf("inspection id %q: want the form 20261207T060000Z (GET /v1/inspections lists them)", id))
		}
		ext, ctype := "json", "application/json"
		switch f := r.URL.Query().Get("format"); f {
		case "", "json":
		case "html":
			ext, ctype = "html", "text/html; charset=utf-8"
		default:
			return api.BadRequest(fmt.Sprintf("format %q: want json or html", f))
		}
		raw, err := in.Get(r.Context(), id, ext)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return api.NotFound(fmt.Sprintf("no inspection %s (the last %d are kept)", id, in.cfg.Health.Inspection.Keep))
		}
		if err != nil {
			return api.Unavailable("inspection: " + err.Error())
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, err = w.Write(raw)
		return err
	})))
}
