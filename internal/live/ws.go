package live

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// handleWebSocket serves MQTT over WebSocket (subprotocol "mqtt") for
// browser viewers. Any origin may connect: viewers authenticate inside
// MQTT with a token, never with cookies, so a page elsewhere gains
// nothing from a viewer's browser.
func (s *Service) handleWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{"mqtt", "mqttv3.1"},
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept has answered the client
	}
	if c.Subprotocol() == "" {
		c.Close(websocket.StatusPolicyViolation, `use the WebSocket subprotocol "mqtt"`)
		return
	}
	c.SetReadLimit(int64(s.cfg.Live.MaxPacket) + 16)
	s.mqtt.ServeConn(websocket.NetConn(context.Background(), c, websocket.MessageBinary))
}
