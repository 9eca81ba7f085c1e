package gate

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/stadion-dev/stadion/internal/api"
)

// listKeys is GET /v1/tickets/keys: the public halves (admin).
func (c *Cloud) listKeys(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	active, _ := c.signer.active()
	api.WriteJSON(w, http.StatusOK, map[string]any{"keys": c.signer.publics(), "active": active.ID})
	return nil
}

// rotateKey is POST /v1/tickets/keys/rotate (admin): new tickets are signed
// with a new key; the old ones keep verifying until retired.
func (c *Cloud) rotateKey(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	k, err := c.signer.rotate(r.Context())
	if err != nil {
		return api.Unavailable(err.Error())
	}
	if err := c.publishKeyAll(r.Context(), k.public()); err != nil {
		return api.Unavailable(err.Error())
	}
	c.log.Info("signing key rotated", "key_id", k.ID)
	api.WriteJSON(w, http.StatusCreated, k.public())
	return nil
}

// retireKey is POST /v1/tickets/keys/{kid}/retire (admin): tickets signed
// with it are rejected at every edge from then on.
func (c *Cloud) retireKey(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	id, err := strconv.ParseUint(r.PathValue("kid"), 10, 32)
	if err != nil {
		return api.BadRequest("key ids are numbers (see GET /v1/tickets/keys)")
	}
	k, err := c.signer.retire(r.Context(), uint32(id))
	if errors.Is(err, ErrNoKey) {
		return api.NotFound("no such signing key")
	}
	if err != nil {
		return api.NewProblem(http.StatusConflict, "conflict", "Cannot retire", err.Error())
	}
	if err := c.publishKeyAll(r.Context(), k.public()); err != nil {
		return api.Unavailable(err.Error())
	}
	api.WriteJSON(w, http.StatusOK, k.public())
	return nil
}
