package api

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panic in a handler into a 500 problem and a log line, so
// no single request can take the server down.
func Recover(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "route", r.Pattern, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, nil)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
