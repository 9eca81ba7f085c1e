package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stadion-dev/stadion/internal/config"
)

// keyBody is the optional body of POST /v1/clients/{client}/keys.
type keyBody struct {
	Role  string `json:"role"`
	Label string `json:"label"`
}

// reissueBody is the body of POST /v1/clients/admin/keys/reissue.
type reissueBody struct {
	Role string   `json:"role"`
	To   []string `json:"to"`
}

// maxReissue bounds the people one reissue names.
const maxReissue = 100

// KeyRoutes registers the admin API for keys:
// POST /v1/clients/{client}/keys (201 {"key", "id", ...}: the key is shown
// once; a body {"role", "label"} gives a key of the admin client its role
// and names who holds it), GET /v1/clients/{client}/keys (ids, roles,
// labels and dates, never keys), DELETE /v1/clients/{client}/keys/{id},
// and POST /v1/clients/admin/keys/reissue ({"role", "to": [names]}:
// revokes every key of the role and makes one per name). Who may call
// which is the request policy's (internal/ops).
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
		var body keyBody
		if err := DecodeJSON(r, 4<<10, &body); err != nil {
			return err
		}
		if err := checkKeyBody(client, body); err != nil {
			return err
		}
		key, rec, err := keys.CreateLabelled(r.Context(), client, body.Role, strings.TrimSpace(body.Label))
		if err != nil {
			return Unavailable(err.Error())
		}
		w.Header().Set("Cache-Control", "no-store")
		WriteJSON(w, http.StatusCreated, keyJSON(rec, key))
		return nil
	})))
	mux.Handle("POST /v1/clients/admin/keys/reissue", auth(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := RequireAdmin(r); err != nil {
			return err
		}
		var body reissueBody
		if err := DecodeJSON(r, 16<<10, &body); err != nil {
			return err
		}
		if err := checkReissue(body); err != nil {
			return err
		}
		return reissue(w, r, keys, body)
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
			out[i] = keyJSON(k, "")
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
		if rec, ok := keys.Record(id); ok && rec.AdminRole() == RoleAdmin {
			if p, _ := PrincipalFrom(r.Context()); p.Role != RoleAdmin {
				return Forbidden(fmt.Sprintf("key %s has the admin role; only an admin key may revoke it", id))
			}
		}
		if err := keys.Revoke(r.Context(), client, id); errors.Is(err, ErrUnknownKey) {
			return NotFound(fmt.Sprintf("client %q has no key %q", client, id))
		} else if err != nil {
			return Unavailable(err.Error())
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})))
}

func keyJSON(rec KeyRecord, key string) map[string]any {
	out := map[string]any{"id": rec.ID, "client": rec.Client, "created": rec.Created}
	if key != "" {
		out["key"] = key
	}
	if role := rec.AdminRole(); role != "" {
		out["role"] = role
	}
	if rec.Label != "" {
		out["label"] = rec.Label
	}
	return out
}

func checkKeyBody(client string, b keyBody) error {
	if b.Role != "" && client != AdminClient {
		return fieldProblem("/role", fmt.Sprintf("only keys of the admin client have roles (client %q has its rights from the configuration)", client))
	}
	if b.Role != "" && !ValidRole(b.Role) {
		return fieldProblem("/role", fmt.Sprintf("role %q is not one of %s", b.Role, strings.Join(Roles, ", ")))
	}
	if err := CheckLabel(b.Label); err != nil {
		return fieldProblem("/label", err.Error())
	}
	return nil
}

func checkReissue(b reissueBody) error {
	if !ValidRole(b.Role) {
		return fieldProblem("/role", fmt.Sprintf("role %q is not one of %s", b.Role, strings.Join(Roles, ", ")))
	}
	if len(b.To) == 0 || len(b.To) > maxReissue {
		return fieldProblem("/to", fmt.Sprintf("name between 1 and %d people to give the new keys to", maxReissue))
	}
	seen := map[string]bool{}
	for i, name := range b.To {
		name = strings.TrimSpace(name)
		ptr := fmt.Sprintf("/to/%d", i)
		if name == "" {
			return fieldProblem(ptr, "a name is needed for every new key")
		}
		if err := CheckLabel(name); err != nil {
			return fieldProblem(ptr, err.Error())
		}
		if seen[strings.ToLower(name)] {
			return fieldProblem(ptr, fmt.Sprintf("%q is named twice", name))
		}
		seen[strings.ToLower(name)] = true
	}
	return nil
}

// reissue revokes every admin key of body.Role (but the caller's own, so
// that an admin reissuing admin keys keeps the key it holds, and the
// servers' admin.key, which are no person's) and creates
// one key per name. The new keys are made first, so a failure leaves the
// old ones working.
func reissue(w http.ResponseWriter, r *http.Request, keys *Keys, body reissueBody) error {
	caller, _ := PrincipalFrom(r.Context())
	var old []KeyRecord
	for _, rec := range keys.List(AdminClient) {
		if rec.AdminRole() == body.Role && rec.ID != caller.KeyID && !rec.File {
			old = append(old, rec)
		}
	}
	made := make([]map[string]any, 0, len(body.To))
	for _, name := range body.To {
		key, rec, err := keys.CreateLabelled(r.Context(), AdminClient, body.Role, strings.TrimSpace(name))
		if err != nil {
			return Unavailable(err.Error())
		}
		made = append(made, keyJSON(rec, key))
	}
	revoked := make([]map[string]any, 0, len(old))
	for _, rec := range old {
		if err := keys.Revoke(r.Context(), AdminClient, rec.ID); err != nil && !errors.Is(err, ErrUnknownKey) {
			return Unavailable(err.Error())
		}
		revoked = append(revoked, keyJSON(rec, ""))
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, map[string]any{"role": body.Role, "keys": made, "revoked": revoked})
	return nil
}

// fieldProblem is a 400 naming the JSON pointer of the offending value.
func fieldProblem(pointer, msg string) *Problem {
	p := BadRequest(msg + " (at " + pointer + ")")
	p.Errors = []FieldError{{Pointer: pointer, Message: msg}}
	return p
}
