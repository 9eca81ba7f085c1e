package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stadion-dev/stadion/internal/config"
)

// KeyRoutes registers the admin API for client keys:
// POST /v1/clients/{client}/keys (201 {"key", "id", ...}: the key is shown
// once), GET /v1/clients/{client}/keys (ids and dates, never keys) and
// DELETE /v1/clients/{client}/keys/{id}.
func KeyRoutes(mux *Mux, keys *Keys, cfg *config.Config, auth func(http.Handler) http.Handler) {
	known := func(r *http.Request) (string, error) {
		if err := RequireAdmin(r); err != nil {
			return "", err
		}
		client := r.PathValue("client")
		if _, ok := cfg.Clients[client]; !ok && client != AdminClient {
			return "", NotFound(fmt.Sprintf("there is no client %q; declare it under clients in the configuration", client))
		}
		return client, nil
	}
	mux.Handle("POST /v1/clients/{client}/keys", auth(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		client, err := known(r)
		if err != nil {
			return err
		}
		key, rec, err := keys.Create(r.Context(), client)
		if err != nil {
			return Unavailable(err.Error())
		}
		w.Header().Set("Cache-Control", "no-store")
		WriteJSON(w, http.StatusCreated, map[string]any{"key": key, "id": rec.ID, "client": client, "created": rec.Created})
		return nil
	})))
	mux.Handle("GET /v1/clients/{client}/keys", auth(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		client, err := known(r)
		if err != nil {
			return err
		}
		list := keys.List(client)
		slices.SortFunc(list, func(a, b KeyRecord) int { return a.Created.Compare(b.Created) })
		out := make([]map[string]any, len(list))
		for i, k := range list {
			out[i] = map[string]any{"id": k.ID, "client": k.Client, "created": k.Created}
		}
		WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
		return nil
	})))
	mux.Handle("DELETE /v1/clients/{client}/keys/{id}", auth(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		client, err := known(r)
		if err != nil {
			return err
		}
		id := strings.TrimSpace(r.PathValue("id"))
		if err := keys.Revoke(r.Context(), client, id); errors.Is(err, ErrUnknownKey) {
			return NotFound(fmt.Sprintf("client %q has no key %q", client, id))
		} else if err != nil {
			return Unavailable(err.Error())
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})))
}
