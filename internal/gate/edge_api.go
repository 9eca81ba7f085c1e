package gate

import (
	"errors"
	"net/http"
	"time"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/config"
)

// DeviceClientPrefix prefixes the client name of a gate device's key.
const DeviceClientPrefix = "device-"

// Routes mounts the edge's API: scans from any key of this edge, device
// keys and status for its admin.
func (e *Edge) Routes(mux *api.Mux, auth func(http.Handler) http.Handler) {
	mux.Handle("POST /v1/scan", auth(api.HandlerFunc(e.scan)))
	mux.Handle("POST /v1/devices/{device}/keys", auth(api.HandlerFunc(e.deviceKey)))
	mux.Handle("DELETE /v1/devices/{device}/keys/{id}", auth(api.HandlerFunc(e.revokeDeviceKey)))
	mux.Handle("GET /v1/status", auth(api.HandlerFunc(e.status)))
}

func (e *Edge) scan(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req ScanRequest
	if err := api.DecodeJSON(r, 16<<10, &req); err != nil {
		return err
	}
	if req.Direction == "" {
		req.Direction = "in"
	}
	var fe []api.FieldError
	if req.Direction != "in" && req.Direction != "out" {
		fe = append(fe, api.FieldError{Pointer: "/direction", Message: `want "in" or "out"`})
	}
	if !config.ValidName(req.Gate) {
		fe = append(fe, api.FieldError{Pointer: "/gate", Message: "required: the gate's name (lower-case letters, digits, '-', '_')"})
	}
	if len(fe) > 0 {
		p := api.BadRequest("the scan request is invalid; nothing was stored")
		p.Errors = fe
		return p
	}
	s, ok := e.check(req, start.UTC())
	p, _ := api.PrincipalFrom(r.Context())
	s.Device = p.Client
	pend := &pending{scan: s, decided: !ok, start: start}
	if err := e.led.submit(r.Context(), pend); err != nil {
		if errors.Is(err, ErrStore) {
			return api.Unavailable("the scan could not be stored; scan again")
		}
		return err
	}
	s = pend.scan
	e.m.decisions.WithLabelValues(s.Decision, s.Reason).Inc()
	e.m.latency.Observe(time.Since(start).Seconds())
	api.WriteJSON(w, http.StatusOK, ScanResult{ScanID: s.ID, Decision: s.Decision, Reason: s.Reason, Ticket: s.Ticket, First: s.First})
	return nil
}

// deviceKey is POST /v1/devices/{device}/keys (the edge's admin): a key a
// gate device scans with.
func (e *Edge) deviceKey(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	device := r.PathValue("device")
	if !config.ValidName(device) {
		return api.BadRequest("device names are lower-case letters, digits, '-' and '_'")
	}
	key, rec, err := e.keys.Create(r.Context(), DeviceClientPrefix+device)
	if err != nil {
		return api.Unavailable(err.Error())
	}
	e.log.Info("device key created", "device", device, "key_id", rec.ID)
	api.WriteJSON(w, http.StatusCreated, map[string]string{"key": key, "id": rec.ID, "device": device})
	return nil
}

func (e *Edge) status(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, e.Status(r.Context()))
	return nil
}

// revokeDeviceKey is DELETE /v1/devices/{device}/keys/{id} (the edge's
// admin): a lost or stolen gate device stops scanning at once.
func (e *Edge) revokeDeviceKey(w http.ResponseWriter, r *http.Request) error {
	if err := api.RequireAdmin(r); err != nil {
		return err
	}
	device, id := r.PathValue("device"), r.PathValue("id")
	err := e.keys.Revoke(r.Context(), DeviceClientPrefix+device, id)
	if errors.Is(err, api.ErrUnknownKey) {
		return api.NotFound("device " + device + " has no key " + id)
	}
	if err != nil {
		return api.Unavailable(err.Error())
	}
	e.log.Info("device key revoked", "device", device, "key_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
