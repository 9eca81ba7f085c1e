package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/stadion-dev/stadion/internal/api"
)

// Routes registers the sinks' HTTP API on mux; auth wraps every route with
// key authentication. Every route needs the admin key.
func (s *Service) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if err := api.RequireAdmin(r); err != nil {
				return err
			}
			return sinkErr(h(w, r))
		})))
	}
	handle("GET /v1/sinks", s.handleList)
	handle("GET /v1/sinks/{name}", s.handleGet)
	handle("POST /v1/sinks/{name}/pause", s.handlePause(true))
	handle("POST /v1/sinks/{name}/resume", s.handlePause(false))
	handle("GET /v1/sinks/{name}/dead-letters", s.handleDeadLetters)
	handle("DELETE /v1/sinks/{name}/dead-letters", s.handleDeleteDeadLetters)
	handle("POST /v1/sinks/{name}/dead-letters/redrive", s.handleRedrive)
}

// sinkErr maps the service's errors to problems in one place.
func sinkErr(err error) error {
	var p *api.Problem
	switch {
	case err == nil, errors.As(err, &p), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, ErrNoSink):
		return api.NotFound(err.Error())
	}
	return api.Unavailable("the engine or database did not answer: " + err.Error())
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) error {
	out := []Status{}
	for _, name := range s.Names() {
		st, err := s.Status(r.Context(), name)
		if err != nil {
			return err
		}
		out = append(out, st)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"sinks": out})
	return nil
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Status(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *Service) handlePause(paused bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := s.SetPaused(r.Context(), name, paused); err != nil {
			return err
		}
		return s.handleGet(w, r)
	}
}

func (s *Service) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	after, err := queryUint(r, "after", 0)
	if err != nil {
		return err
	}
	limit, err := queryUint(r, "limit", 100)
	if err != nil || limit < 1 || limit > 1000 {
		return api.BadRequest("limit must be 1-1000")
	}
	dls, err := s.DeadLetters(r.Context(), r.PathValue("name"), after, int(limit))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": dls})
	return nil
}

// idsBody is the optional body of delete and redrive: no body or no ids
// means all dead letters.
type idsBody struct {
	IDs []uint64 `json:"ids"`
}

func (s *Service) handleDeleteDeadLetters(w http.ResponseWriter, r *http.Request) error {
	var body idsBody
	if err := api.DecodeJSON(r, 1<<20, &body); err != nil {
		return err
	}
	n, err := s.DeleteDeadLetters(r.Context(), r.PathValue("name"), body.IDs)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{"deleted": n})
	return nil
}

func (s *Service) handleRedrive(w http.ResponseWriter, r *http.Request) error {
	var body idsBody
	if err := api.DecodeJSON(r, 1<<20, &body); err != nil {
		return err
	}
	res, err := s.Redrive(r.Context(), r.PathValue("name"), body.IDs)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, api.BadRequest(fmt.Sprintf("%s must be a non-negative integer", name))
	}
	return n, nil
}
