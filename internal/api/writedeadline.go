package api

import (
	"net/http"
	"time"
)

// WriteDeadline bounds how long any response may wait for its reader: each
// write (and flush) must reach the client within d of being made, or the
// connection is cut. A client that stops reading therefore holds a
// goroutine and its buffers for at most d, whatever it asked for. A
// handler that sets its own write deadlines (http.ResponseController's
// SetWriteDeadline, as Stream does) takes over from then on.
func WriteDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			// The handler takes the connection over (WebSocket) and bounds
			// its own writes; a deadline set here would outlive the hijack.
			h.ServeHTTP(w, r)
			return
		}
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		h.ServeHTTP(pw, r)
		// What is still buffered is sent after the handler returns.
		pw.arm()
	})
}

// progressWriter moves the connection's write deadline to d from now
// before every write.
type progressWriter struct {
	http.ResponseWriter
	rc  *http.ResponseController
	d   time.Duration
	own bool // the handler manages deadlines itself
}

func (w *progressWriter) arm() {
	if !w.own {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

func (w *progressWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush calls.
func (w *progressWriter) FlushError() error {
	w.arm()
	return w.rc.Flush()
}

// Flush keeps http.Flusher working for callers that type-assert.
func (w *progressWriter) Flush() { _ = w.FlushError() }

// SetWriteDeadline hands deadlines over to the handler.
func (w *progressWriter) SetWriteDeadline(t time.Time) error {
	w.own = true
	return w.rc.SetWriteDeadline(t)
}

// Unwrap lets http.ResponseController reach the rest (Hijack, read
// deadlines) on the real writer.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
