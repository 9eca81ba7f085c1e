package limits

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/stadion-dev/stadion/internal/api"
)

// Identify resolves r's bearer key: it returns the request to pass on
// (which may carry the caller for the authentication after it), the
// client and key id, and false for no key or an unknown one.
type Identify func(r *http.Request) (next *http.Request, client, keyID string, ok bool)

// Middleware checks every request against the limits before h sees it.
// The caller's key is resolved (ident) only when a limit matches on a
// client or key, or for the limits and plans routes: the admin's requests
// there are never limited, so a limit that went wrong can always be
// deleted and a plan reverted.
func (lm *Limiter) Middleware(ident Identify, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Method: r.Method, Path: r.URL.Path, UserAgent: r.UserAgent(), Source: remoteAddr(r.RemoteAddr), Venue: venueOf(r.URL.Path)}
		control := strings.HasPrefix(req.Path, "/v1/limits") || strings.HasPrefix(req.Path, "/v1/plans")
		if control || lm.NeedsIdentity() {
			r, req.Client, req.KeyID, _ = ident(r)
		}
		if control && req.Client == api.AdminClient {
			h.ServeHTTP(w, r)
			return
		}
		d := lm.Check(&req)
		if d.Refused {
			refuse(w, r, d)
			return
		}
		defer d.Done()
		h.ServeHTTP(w, r)
	})
}

// refuse answers 429 naming the limit.
func refuse(w http.ResponseWriter, r *http.Request, d Decision) {
	secs := int(math.Ceil(d.RetryAfter.Seconds()))
	secs = max(secs, 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p := api.NewProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests",
		fmt.Sprintf("limit %q refused this request; retry after %ds", d.Limit, secs))
	p.Extra = map[string]any{"limit": d.Limit, "retry_after": secs}
	api.WriteError(w, r, p)
}

func remoteAddr(s string) netip.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// venueOf is the venue a request is about: /v1/venues/{venue}/...
func venueOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/venues/")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "/")
	return v
}

// problem maps the service's errors to problem+json.
func problem(err error) error {
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		p := api.BadRequest("the limit is not valid: " + err.Error())
		p.Errors = []api.FieldError{{Pointer: "/" + strings.ReplaceAll(fe.field, ".", "/"), Message: fe.msg}}
		return p
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoPlan):
		return api.NotFound(err.Error())
	case errors.Is(err, ErrTooMany):
		return api.NewProblem(http.StatusConflict, "too-many-limits", "Too many limits", err.Error())
	}
	var p *api.Problem
	if errors.As(err, &p) {
		return p
	}
	return api.Unavailable(err.Error())
}
