package limits

import (
	"fmt"
	"net/http"

	"github.com/stadion-dev/stadion/internal/api"
)

// maxSpecBody bounds a limit's JSON body.
const maxSpecBody = 16 << 10

// Routes registers /v1/limits and /v1/plans; every route needs the admin
// key. (Roles: reading and changing limits and plan definitions is admin,
// applying and reverting a plan is operate.)
func (s *Service) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	h := func(f func(http.ResponseWriter, *http.Request) error) http.Handler {
		return auth(api.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if err := api.RequireAdmin(r); err != nil {
				return err
			}
			if err := f(w, r); err != nil {
				return problem(err)
			}
			return nil
		}))
	}
	mux.Handle("GET /v1/limits", h(s.listLimits))
	mux.Handle("GET /v1/limits/{name}", h(s.getLimit))
	mux.Handle("PUT /v1/limits/{name}", h(s.putLimit))
	mux.Handle("DELETE /v1/limits/{name}", h(s.deleteLimit))
	mux.Handle("GET /v1/plans", h(s.listPlans))
	mux.Handle("GET /v1/plans/{name}", h(s.getPlan))
	mux.Handle("POST /v1/plans/{name}/apply", h(s.applyPlan))
	mux.Handle("POST /v1/plans/{name}/revert", h(s.revertPlan))
}

func who(r *http.Request) string {
	p, _ := api.PrincipalFrom(r.Context())
	return p.Client + "/" + p.KeyID
}

// listLimits answers every limit; with ?counts=true also every process's
// counts summed (what `stadion limits watch` polls).
func (s *Service) listLimits(w http.ResponseWriter, r *http.Request) error {
	out := map[string]any{"limits": s.List(), "max": MaxLimits}
	if r.URL.Query().Get("counts") == "true" {
		c, n, err := s.Stats(r.Context())
		if err != nil {
			return err
		}
		out["counts"], out["processes"] = c, n
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) getLimit(w http.ResponseWriter, r *http.Request) error {
	rec, ok := s.Get(r.PathValue("name"))
	if !ok {
		return fmt.Errorf("%w %q", ErrNotFound, r.PathValue("name"))
	}
	api.WriteJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Service) putLimit(w http.ResponseWriter, r *http.Request) error {
	var spec Spec
	body, err := api.ReadBody(r, maxSpecBody)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return api.BadRequest(`send the limit as JSON, e.g. {"match":{"user_agent":"^BadBot/"},"rate":"1/s","burst":1,"action":"enforce"}`)
	}
	if err := api.Unmarshal(body, &spec); err != nil {
		return err
	}
	rec, created, err := s.Set(r.Context(), r.PathValue("name"), spec, who(r))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	api.WriteJSON(w, status, rec)
	return nil
}

func (s *Service) deleteLimit(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.Delete(r.Context(), name); err != nil {
		if err == ErrNotFound {
			return fmt.Errorf("%w %q", ErrNotFound, name)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) listPlans(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.Plans(r.Context())
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []PlanState{}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"plans": ps})
	return nil
}

func (s *Service) getPlan(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	p, err := s.plan(name)
	if err != nil {
		return err
	}
	h, err := s.History(r.Context(), name)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"name": name, "description": p.Description, "limits": p.Limits, "history": h})
	return nil
}

// applyPlan applies a plan, or with ?dry_run=true previews it.
func (s *Service) applyPlan(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if r.URL.Query().Get("dry_run") == "true" {
		d, err := s.Preview(r.Context(), name)
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, d)
		return nil
	}
	ev, err := s.Apply(r.Context(), name, who(r))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, ev)
	return nil
}

func (s *Service) revertPlan(w http.ResponseWriter, r *http.Request) error {
	ev, err := s.Revert(r.Context(), r.PathValue("name"), who(r))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, ev)
	return nil
}
