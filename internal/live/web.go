package live

import (
	_ "embed"
	"net/http"
)

// viewerPage is a room's page for browsers: it watches over MQTT over
// WebSocket and posts with a viewer token pasted into it.
//
//go:embed web/viewer.html
var viewerPage []byte

func (s *Service) handleViewerPage(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.room(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(viewerPage)
	return nil
}
