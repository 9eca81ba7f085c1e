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

// Invalid UTF-8 is malformed JSON: it would be validated in a cleaned-up
// form but stored as sent.
func TestInvalidUTF8IsMalformed(t *testing.T) {
	for _, ct := range []string{ctJSON, ctCloudEvent, ctCloudEventBat} {
		body := []byte("{\"name\":\"caf\xe9\"}")
		_, _, _, err := decodeBody(ct, body)
		var p *api.Problem
		if !errors.As(err, &p) || p.Status != 400 || p.Title != "Malformed JSON" {
			t.Errorf("%s: got %v, want 400 Malformed JSON", ct, err)
		}
	}
}
