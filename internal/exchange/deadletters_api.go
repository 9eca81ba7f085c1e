package exchange

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/stadion-dev/stadion/internal/api"
)

// GET /v1/subscriptions/{name}/dead-letters?after=&limit=
func (x *Exchange) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return api.BadRequest("after must be a non-negative integer")
		}
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxLimit {
			return api.BadRequest(fmt.Sprintf("limit must be 1-%d", maxLimit))
		}
	}
	dls, err := x.deadLetters(r.Context(), s.Name, after, limit)
	if err != nil {
		return engineErr(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": dls})
	return nil
}

// deadLetterIDs is the body of redrive and discard: no ids means all.
type deadLetterIDs struct {
	IDs []uint64 `json:"ids"`
}

func (x *Exchange) readIDs(r *http.Request) (deadLetterIDs, error) {
	var req deadLetterIDs
	if err := api.DecodeJSON(r, 1<<20, &req); err != nil {
		return req, err
	}
	if len(req.IDs) > maxLimit {
		return req, api.BadRequest(fmt.Sprintf("ids must list at most %d dead letters", maxLimit))
	}
	return req, nil
}

// POST /v1/subscriptions/{name}/dead-letters/redrive {"ids":[...]}
func (x *Exchange) handleRedrive(w http.ResponseWriter, r *http.Request) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	req, err := x.readIDs(r)
	if err != nil {
		return err
	}
	n, err := x.redrive(r.Context(), s.Name, req.IDs)
	if err != nil {
		return engineErr(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{"redriven": n})
	return nil
}

// DELETE /v1/subscriptions/{name}/dead-letters {"ids":[...]}
func (x *Exchange) handleDiscardDeadLetters(w http.ResponseWriter, r *http.Request) error {
	s, err := x.subscription(r)
	if err != nil {
		return err
	}
	req, err := x.readIDs(r)
	if err != nil {
		return err
	}
	n, err := x.removeDeadLetters(r.Context(), s.Name, req.IDs)
	if err != nil {
		return engineErr(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{"deleted": n})
	return nil
}
