package api

import (
	"net/http"
	"time"
)

// BodyDeadline bounds how long a request with a body may take to send it,
// so a client trickling bytes (slowloris) cannot hold a connection and a
// goroutine for ever. Requests without a body, such as SSE streams, are
// left alone: a read deadline on their connection would end them. The
// deadline is set per request, so keep-alive connections are not affected.
func BodyDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}
