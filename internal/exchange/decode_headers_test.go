package exchange

import (
	"errors"
	"testing"

	"github.com/stadion-dev/stadion/internal/api"
)

// A structured CloudEvent's id becomes part of the engine's Nats-Msg-Id
// header: control characters must never get through.
func TestCloudEventIDCannotInjectHeaders(t *testing.T) {
	for name, id := range map[string]string{
		"newline":         `a\nNats-Expected-Stream: other`,
		"carriage return": `a\r\nX: y`,
		"nul":             `a\u0000b`,
		"delete":          `a\u007fb`,
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"specversion":"1.0","id":"` + id + `","data":{}}`
			_, _, _, err := decodeBody(ctCloudEvent, []byte(body))
			var p *api.Problem
			if !errors.As(err, &p) || p.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Pointer != "/id" {
				t.Fatalf("id %q: got %v, want a 400 at /id", id, err)
			}
		})
	}
	if _, _, _, err := decodeBody(ctCloudEvent, []byte(`{"specversion":"1.0","id":"ok-1","data":{}}`)); err != nil {
		t.Fatalf("a plain id was refused: %v", err)
	}
}
