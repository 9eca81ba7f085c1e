package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/engine"
)

// What `up` and `edge` share besides their first steps (claim, openKeys,
// newRegistry in server.go): the system routes and the last step, stop.

// stopAll is the last step of `up` and of `edge`: the process stops being
// ready, HTTP drains in-flight requests until ctx ends, the services stop
// in the reverse order of their start, then the engine, and the data
// directory's lock is released.
func stopAll(ctx context.Context, ready *atomic.Bool, srv *http.Server, svcs []service, eng *engine.Engine, lock *dataLock) error {
	ready.Store(false)
	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http drain: %w", err))
			srv.Close()
		}
	}
	for i := len(svcs) - 1; i >= 0; i-- {
		errs = append(errs, svcs[i].Stop(ctx))
	}
	if eng != nil {
		errs = append(errs, eng.Stop(ctx))
	}
	lock.release()
	return errors.Join(errs...)
}

// probeRoutes serves GET /healthz (the process answers), GET /readyz
// (ready says when; it differs between `up` and `edge`) and GET /metrics
// from reg behind guard.
func probeRoutes(mux *api.Mux, reg *prometheus.Registry, guard func(http.Handler) http.Handler, ready func(http.ResponseWriter, *http.Request) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", api.HandlerFunc(ready))
	mux.Handle("GET /metrics", guard(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
}
